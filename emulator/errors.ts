// Mender's error responses: a status and the body {"error": "...", "request_id": "..."}.

export class MenderError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly metadata?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export const badRequest = (message: string): MenderError => new MenderError(400, message);
export const notFound = (message: string): MenderError => new MenderError(404, message);
export const unauthorized = (message = 'unauthorized'): MenderError => new MenderError(401, message);
export const conflict = (message: string, metadata?: Record<string, unknown>): MenderError =>
  new MenderError(409, message, metadata);
export const unprocessable = (message: string): MenderError => new MenderError(422, message);

export interface ErrorBody {
  error: string;
  request_id: string;
  metadata?: Record<string, unknown>;
}

export function errorBody(err: MenderError, requestId: string): ErrorBody {
  return err.metadata
    ? { error: err.message, request_id: requestId, metadata: err.metadata }
    : { error: err.message, request_id: requestId };
}
