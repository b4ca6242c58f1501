// useradm: log in with Basic auth to get a management JWT.
import type { FastifyInstance } from 'fastify';
import type { Auth } from '../auth';
import type { EmulatorContext } from '../context';
import { unauthorized } from '../errors';

export function registerUseradmRoutes(app: FastifyInstance, _ctx: EmulatorContext, auth: Auth): void {
  app.post('/api/management/v1/useradm/auth/login', async (req, reply) => {
    if (!/^Basic\s/i.test(req.headers.authorization ?? '')) throw unauthorized('invalid or missing auth header');
    const token = auth.login(req.headers.authorization);
    if (!token) throw unauthorized('unauthorized');
    return reply.code(200).type('application/jwt').send(token);
  });

  app.post('/api/management/v1/useradm/auth/logout', async (_req, reply) => reply.code(202).send());
}
