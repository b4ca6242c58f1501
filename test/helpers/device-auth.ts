// A device's auth request as the mender client makes it (client/api/auth.go in mender 3.4): the
// identity as a JSON string, the PEM public key, and X-MEN-Signature, the base64 RSA PKCS#1 v1.5
// signature of the SHA-256 of the exact body bytes.
import { generateKeyPairSync, KeyObject, sign } from 'node:crypto';

export interface DeviceKey {
  privateKey: KeyObject;
  publicPem: string;
}

export function deviceKey(type: 'rsa' | 'ed25519' | 'ec' = 'rsa'): DeviceKey {
  const { privateKey, publicKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('ed25519');
  return { privateKey, publicPem: String(publicKey.export({ type: 'spki', format: 'pem' })) };
}

export function signBody(key: DeviceKey, body: string): string {
  const type = key.privateKey.asymmetricKeyType;
  const data = Buffer.from(body);
  const signature = type === 'ed25519' ? sign(null, data, key.privateKey) : sign('sha256', data, type === 'ec' ? { key: key.privateKey, dsaEncoding: 'der' } : key.privateKey);
  return signature.toString('base64');
}

/** The body and headers of a signed auth request, to send with any HTTP client. */
export function signedAuthRequest(identity: Record<string, unknown>, key: DeviceKey): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ id_data: JSON.stringify(identity), pubkey: key.publicPem, tenant_token: '' });
  return { body, headers: { 'content-type': 'application/json', 'x-men-signature': signBody(key, body) } };
}

/** POSTs a signed auth request; the response's status and text (a JWT when accepted). */
export async function authRequest(
  baseUrl: string,
  identity: Record<string, unknown>,
  key: DeviceKey,
): Promise<{ status: number; text: string; contentType: string | null; requestId: string | null }> {
  const res = await fetch(`${baseUrl}/api/devices/v1/authentication/auth_requests`, { method: 'POST', ...signedAuthRequest(identity, key) });
  return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type'), requestId: res.headers.get('x-men-requestid') };
}
