import { createMenderClient, MenderClient } from './mender';

/** What a process needs to reach Mender; never part of a resource's inputs or state. */
export interface ProviderSettings {
  serverUrl?: string;
  token?: string;
  username?: string;
  password?: string;
  caCert?: string;
}

/** Stack configuration first, the environment variables of the seed's playbook as the fallback. */
export function menderSettings(fromStack: ProviderSettings, env: NodeJS.ProcessEnv = process.env): ProviderSettings {
  return {
    serverUrl: fromStack.serverUrl || env.MENDER_SERVER_URL,
    token: fromStack.token || env.MENDER_ACCESS_TOKEN,
    username: fromStack.username || env.MENDER_USERNAME,
    password: fromStack.password || env.MENDER_PASSWORD,
    caCert: fromStack.caCert || env.MENDER_CA_CERT,
  };
}

/** The settings from stack configuration read by full key (`mender:serverUrl`, ...), then the environment. */
export function menderSettingsFromConfig(get: (key: string) => string | undefined, env: NodeJS.ProcessEnv = process.env): ProviderSettings {
  const keys: (keyof ProviderSettings)[] = ['serverUrl', 'token', 'username', 'password', 'caCert'];
  return menderSettings(Object.fromEntries(keys.map((k) => [k, get(`mender:${k}`)])), env);
}

function requireServerUrl(s: ProviderSettings): string {
  if (!s.serverUrl) {
    throw new Error('no Mender server configured: set mender:serverUrl in the stack configuration (or MENDER_SERVER_URL)');
  }
  return s.serverUrl;
}

/**
 * A client of its own for these settings: the dynamic provider keeps one (below), the program
 * and `fleet plan` build theirs, so no client crosses the program/provider process boundary.
 */
export function clientFromSettings(s: ProviderSettings, concurrency = 16): MenderClient {
  if (!s.token && !(s.username && s.password)) {
    throw new Error('no Mender credentials: set the secret mender:token (`npm run pulumi -- config set --secret mender:token`) or MENDER_ACCESS_TOKEN');
  }
  return createMenderClient({
    serverUrl: requireServerUrl(s),
    token: s.token,
    username: s.token ? undefined : s.username,
    password: s.token ? undefined : s.password,
    caCert: s.caCert,
    concurrency,
  });
}

// The dynamic provider's own settings and client (this module is loaded in the provider process).
let settings: ProviderSettings = {};
let client: MenderClient | undefined;

/** Called from the dynamic provider's `configure` with the stack configuration. */
export function configure(fromStack: ProviderSettings): void {
  const next = menderSettings(fromStack);
  // Each of the three providers configures on first use, while the others may have requests
  // in flight: keep the client unless the settings really changed.
  if (JSON.stringify(next) === JSON.stringify(settings)) return;
  settings = next;
  client = undefined;
}

export function serverUrl(): string {
  return requireServerUrl(settings);
}

export function menderClient(): MenderClient {
  client ??= clientFromSettings(settings);
  return client;
}
