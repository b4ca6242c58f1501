// useradm: log in with Basic auth to get a management JWT.
import type { FastifyInstance } from 'fastify';
import type { Auth } from '../auth';
import type { EmulatorContext } from '../context';
import { unauthorized } from '../errors';
import { parseJsonBody } from '../json-body';

export function registerUseradmRoutes(app: FastifyInstance, _ctx: EmulatorContext, auth: Auth): void {
  // AuthLoginHandler (backend/services/useradm/api/http/api_useradm.go) binds the login options
  // only when a body is sent (`err != nil && ContentLength != 0` is the 400), so an empty body
  // with Content-Type application/json, as mender-cli 1.9 sends it, logs in. Fastify's JSON
  // parser refuses an empty body; this scope's parser takes it as no options.
  void app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, parseJsonBody);

    scope.post('/api/management/v1/useradm/auth/login', async (req, reply) => {
      if (!/^Basic\s/i.test(req.headers.authorization ?? '')) throw unauthorized('invalid or missing auth header');
      const token = auth.login(req.headers.authorization);
      if (!token) throw unauthorized('unauthorized');
      return reply.code(200).type('application/jwt').send(token);
    });
  });

  app.post('/api/management/v1/useradm/auth/logout', async (_req, reply) => reply.code(202).send());
}
