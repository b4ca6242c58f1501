// Management and device authentication: personal access tokens, user JWTs from
// `useradm/auth/login`, and device JWTs from `authentication/auth_requests`.
import { createSigner, createVerifier } from 'fast-jwt';
import { unauthorized } from './errors';
import type { DevauthService } from './devauth';
import type { Store } from './store';

const ISSUER = 'Mender';

export type Principal = { kind: 'user'; subject: string } | { kind: 'device'; deviceId: string };

export class Auth {
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verify: (token: string) => Record<string, unknown>;

  constructor(
    private readonly store: Store,
    private readonly devauth: DevauthService,
  ) {
    this.sign = createSigner({ key: store.jwtSecret, algorithm: 'HS256', expiresIn: 7 * 24 * 3600 * 1000 });
    this.verify = createVerifier({ key: store.jwtSecret, algorithms: ['HS256'], allowedIss: ISSUER });
  }

  /** Basic auth header → user JWT, or undefined when the credentials are wrong. */
  login(authorization: string | undefined): string | undefined {
    const m = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const decoded = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const email = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    if (this.store.users.get(email) !== password) return undefined;
    return this.sign({ iss: ISSUER, sub: email, scp: 'mender.*', 'mender.user': true });
  }

  /** A device JWT whose `jti` is the accepted auth set it was issued for, as deviceauth makes it. */
  deviceToken(deviceId: string, authSetId: string): string {
    return this.sign({ iss: ISSUER, sub: deviceId, jti: authSetId, 'mender.device': true });
  }

  private bearer(authorization: string | undefined): string {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m) throw unauthorized();
    return m[1];
  }

  management(authorization: string | undefined): Principal {
    const token = this.bearer(authorization);
    if (this.store.tokens.has(token)) return { kind: 'user', subject: 'personal-access-token' };
    const claims = this.claims(token);
    if (claims['mender.user'] !== true) throw unauthorized();
    return { kind: 'user', subject: String(claims.sub) };
  }

  device(authorization: string | undefined): string {
    const claims = this.claims(this.bearer(authorization));
    if (claims['mender.device'] !== true || typeof claims.sub !== 'string' || typeof claims.jti !== 'string') throw unauthorized();
    // VerifyToken: the token must still be in deviceauth's store, which rejecting, dismissing
    // or decommissioning empties.
    if (!this.devauth.tokenValid(claims.sub, claims.jti)) throw unauthorized();
    return claims.sub;
  }

  private claims(token: string): Record<string, unknown> {
    try {
      return this.verify(token);
    } catch {
      throw unauthorized();
    }
  }
}
