import type { ContentTypeParserDoneFunction } from 'fastify/types/content-type-parser';
import type { FastifyRequest } from 'fastify';

/**
 * A request body as Mender's services read it: JSON whatever the Content-Type says (gin's
 * ShouldBindJSON), and an empty body as no body (useradm's AuthLoginHandler binds only a sent one).
 */
export function parseJsonBody(_req: FastifyRequest, body: string | Buffer, done: ContentTypeParserDoneFunction): void {
  const text = String(body);
  if (text.trim() === '') return done(null, undefined);
  try {
    done(null, JSON.parse(text));
  } catch (err) {
    done(err as Error, undefined);
  }
}
