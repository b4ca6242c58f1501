// Request bodies are checked with zod; a failure becomes Mender's 400 error body.
import { z } from 'zod';
import { badRequest } from './errors';

export function parseBody<T extends z.ZodType>(schema: T, body: unknown, context = 'invalid request body'): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw badRequest(`${context}: ${where}${issue.message}`);
  }
  return result.data;
}
