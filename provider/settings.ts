import { createMenderClient, MenderClient } from './mender';

/** What the dynamic provider needs to reach Mender; never part of a resource's inputs or state. */
export interface ProviderSettings {
  serverUrl?: string;
  token?: string;
  username?: string;
  password?: string;
  caCert?: string;
}

let settings: ProviderSettings = {};
let client: MenderClient | undefined;

/**
 * Called from the dynamic provider's `configure` with the stack configuration; the
 * environment variables of the seed's playbook are the fallback.
 */
export function configure(fromStack: ProviderSettings): void {
  const next: ProviderSettings = {
    serverUrl: fromStack.serverUrl || process.env.MENDER_SERVER_URL,
    token: fromStack.token || process.env.MENDER_ACCESS_TOKEN,
    username: fromStack.username || process.env.MENDER_USERNAME,
    password: fromStack.password || process.env.MENDER_PASSWORD,
    caCert: fromStack.caCert || process.env.MENDER_CA_CERT,
  };
  // Each of the three providers configures on first use, while the others may have requests
  // in flight: keep the client unless the settings really changed.
  if (JSON.stringify(next) === JSON.stringify(settings)) return;
  settings = next;
  client = undefined;
}

export function serverUrl(): string {
  if (!settings.serverUrl) {
    throw new Error('no Mender server configured: set mender:serverUrl in the stack configuration (or MENDER_SERVER_URL)');
  }
  return settings.serverUrl;
}

export function menderClient(): MenderClient {
  if (!client) {
    if (!settings.token && !(settings.username && settings.password)) {
      throw new Error('no Mender credentials: set the secret mender:token (`npm run pulumi -- config set --secret mender:token`) or MENDER_ACCESS_TOKEN');
    }
    client = createMenderClient({
      serverUrl: serverUrl(),
      token: settings.token,
      username: settings.token ? undefined : settings.username,
      password: settings.token ? undefined : settings.password,
      caCert: settings.caCert,
      concurrency: 16,
    });
  }
  return client;
}
