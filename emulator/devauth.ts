// Mender's deviceauth service: devices and their authentication sets, from a device's first
// auth request (recorded as pending for a person to accept) or a preauthorization, to accept,
// reject and decommission. Behaviour follows backend/services/deviceauth/devauth/devauth.go.
import { createPublicKey, KeyObject, verify } from 'node:crypto';
import type { Clock } from './clock';
import type { DeploymentsService } from './deployments';
import { badRequest, notFound, unauthorized } from './errors';
import { newId } from './ids';
import { identityDataOf, sortedJson, Store } from './store';
import type { AttributeValue, AuthSetRecord, AuthSetStatus, DeviceAuthStatus, DeviceRecord } from './types';

/** deviceauth's Device as its management API shows it (model/device.go, JSON tags). */
export interface DevauthDeviceView {
  id: string;
  identity_data: Record<string, unknown>;
  status: DeviceAuthStatus;
  decommissioning: boolean;
  created_ts: string;
  updated_ts: string;
  auth_sets: DevauthAuthSetView[];
  check_in_time?: string;
}

/** model/authset.go: device_id is not serialised. */
export interface DevauthAuthSetView {
  id: string;
  identity_data: Record<string, unknown>;
  pubkey: string;
  ts: string;
  status: AuthSetStatus;
}

/** 409 of the preauthorize handler: the body is the conflicting device, not an error. */
export class DeviceExists extends Error {
  constructor(readonly device: DevauthDeviceView) {
    super('device already exists');
  }
}

/**
 * model/device.go statusWeight and DeviceStatusFromAuthSetStatuses: a device is accepted if any
 * set is, else the heaviest of preauthorized, pending, rejected; noauth without sets.
 */
const WEIGHT: Record<AuthSetStatus, number> = { rejected: 1, pending: 2, preauthorized: 3, accepted: 4 };
export function deviceStatusFromAuthSets(statuses: readonly AuthSetStatus[]): DeviceAuthStatus {
  let status: DeviceAuthStatus = 'noauth';
  let weight = 0;
  for (const s of statuses) {
    if (WEIGHT[s] > weight) {
      status = s;
      weight = WEIGHT[s];
    }
  }
  return status;
}

/** model/device.go ValidateStatusTransition. */
function validTransition(from: AuthSetStatus, to: AuthSetStatus): boolean {
  switch (to) {
    case 'accepted':
      return from === 'rejected' || from === 'pending';
    case 'pending':
      return from !== 'preauthorized';
    case 'rejected':
      return from === 'pending' || from === 'accepted';
    default:
      return false;
  }
}

/**
 * utils.ParsePubKey then SerializePubKey: the key as PEM "PUBLIC KEY", so a key sent with other
 * line breaks is the same key. RSA, ECDSA P-256 and Ed25519, as deviceauth supports.
 */
export function parsePubKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw badRequest(`invalid auth request: cannot decode public key: ${(err as Error).message}`);
  }
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'ec' && type !== 'ed25519') throw badRequest(`invalid auth request: unsupported public key type ${String(type)}`);
  return key;
}

export function serializePubKey(key: KeyObject): string {
  return String(key.export({ type: 'spki', format: 'pem' }));
}

/**
 * utils.VerifyAuthReqSign: the base64 signature over the raw request body; RSA PKCS#1 v1.5 and
 * ECDSA (ASN.1) over its SHA-256, Ed25519 over the body itself.
 */
export function verifyAuthRequestSignature(signatureB64: string, key: KeyObject, body: Buffer): boolean {
  const signature = Buffer.from(signatureB64, 'base64');
  try {
    if (key.asymmetricKeyType === 'ed25519') return verify(null, body, key, signature);
    if (key.asymmetricKeyType === 'ec') return verify('sha256', body, { key, dsaEncoding: 'der' }, signature);
    return verify('sha256', body, key, signature);
  } catch {
    return false;
  }
}

/** parseIdData: id_data must be a JSON object; kept sorted (AuthReq.Validate, utils.JsonSort). */
export function parseIdentityData(idData: string): { sorted: string; identity: Record<string, unknown> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(idData);
  } catch (err) {
    throw badRequest(`failed to parse identity data: ${idData}: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest(`failed to parse identity data: ${idData}: not a JSON object`);
  return { sorted: sortedJson(parsed), identity: parsed as Record<string, unknown> };
}

export class DevauthService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly deployments: DeploymentsService,
  ) {}

  authSetsOf(deviceId: string): AuthSetRecord[] {
    const sets: AuthSetRecord[] = [];
    for (const a of this.store.authSets.values()) if (a.deviceId === deviceId) sets.push(a);
    return sets.sort((a, b) => a.ts.localeCompare(b.ts));
  }

  private deviceByIdData(idData: string): DeviceRecord | undefined {
    for (const d of this.store.devices.values()) if (identityDataOf(d) === idData) return d;
    return undefined;
  }

  statusOf(d: DeviceRecord): DeviceAuthStatus {
    return (d.identity.status as DeviceAuthStatus | undefined) ?? 'noauth';
  }

  view(d: DeviceRecord): DevauthDeviceView {
    const identity = JSON.parse(identityDataOf(d)) as Record<string, unknown>;
    return {
      id: d.id,
      identity_data: identity,
      status: this.statusOf(d),
      decommissioning: d.decommissioning ?? false,
      created_ts: d.createdTs,
      updated_ts: d.updatedTs,
      auth_sets: this.authSetsOf(d.id).map((a) => ({
        id: a.id,
        identity_data: JSON.parse(a.idData) as Record<string, unknown>,
        pubkey: a.pubkey,
        ts: a.ts,
        status: a.status,
      })),
      ...(d.checkInTime ? { check_in_time: d.checkInTime } : {}),
    };
  }

  get(deviceId: string): DeviceRecord {
    const d = this.store.devices.get(deviceId);
    if (!d) throw notFound('device not found');
    return d;
  }

  /**
   * The device's status changes (updateDeviceStatus); the update_device_status workflow writes
   * it into inventory's identity scope, where the emulator keeps it. Becoming accepted the
   * first time provisions the device (provision_device: deviceconfig gets a record).
   */
  private setDeviceStatus(d: DeviceRecord, status: DeviceAuthStatus): void {
    if (this.statusOf(d) === status) return;
    d.identity.status = status;
    d.updatedTs = this.clock.iso();
    if (status === 'accepted' && d.deviceconfigProvisioned === false && !this.store.configs.has(d.id)) {
      this.store.configs.set(d.id, { id: d.id, configured: {}, reported: {}, updatedTs: this.clock.iso() });
    }
  }

  private aggregate(d: DeviceRecord): void {
    this.setDeviceStatus(d, deviceStatusFromAuthSets(this.authSetsOf(d.id).map((a) => a.status)));
  }

  /** Tokens die with the acceptance of their set (DeleteTokenByDevId in updateAuthSetStatus). */
  private revokeTokens(deviceId: string): void {
    for (const a of this.authSetsOf(deviceId)) this.store.deviceTokens.delete(a.id);
  }

  /** updateAuthSetStatus: accepting one set rejects the device's other accepted sets. */
  private updateAuthSetStatus(set: AuthSetRecord, status: AuthSetStatus): void {
    if (status === 'accepted') {
      for (const other of this.authSetsOf(set.deviceId)) {
        if (other.id !== set.id && other.status === 'accepted') {
          other.status = 'rejected';
          this.store.deviceTokens.delete(other.id);
        }
      }
    } else if (set.status === 'accepted') {
      this.revokeTokens(set.deviceId);
    }
    set.status = status;
  }

  /**
   * SubmitAuthRequest: a preauthorized set with this identity and key is accepted; otherwise the
   * device is found or made (getDeviceFromAuthRequest) and the set found or recorded as pending
   * (processAuthRequest). Returns the accepted set's id, the token's jti; 401 otherwise.
   */
  submitAuthRequest(idData: string, pubkey: string): { deviceId: string; authSetId: string } {
    const { sorted, identity } = parseIdentityData(idData);
    const now = this.clock.iso();
    let set = [...this.store.authSets.values()].find((a) => a.idData === sorted && a.pubkey === pubkey);
    if (set?.status === 'preauthorized') {
      const d = this.get(set.deviceId);
      if (d.decommissioning) throw unauthorized('dev auth: unauthorized');
      this.updateAuthSetStatus(set, 'accepted');
      this.setDeviceStatus(d, 'accepted');
    } else {
      let d = this.deviceByIdData(sorted);
      if (!d) {
        d = this.newDevice(newId(), sorted, identity, now);
      }
      if (d.decommissioning) throw unauthorized('dev auth: unauthorized');
      if (!set) {
        // A world device's keyless set takes the first key presented with its identity.
        set = this.authSetsOf(d.id).find((a) => a.pubkey === '' && a.status === 'accepted');
        if (set) {
          set.pubkey = pubkey;
          d.external = true;
        } else {
          set = { id: newId(), deviceId: d.id, idData: sorted, pubkey, status: 'pending', ts: now };
          this.store.authSets.set(set.id, set);
        }
      }
      this.aggregate(d);
    }
    if (set.status !== 'accepted') throw unauthorized('dev auth: unauthorized');
    const d = this.get(set.deviceId);
    d.checkInTime = now;
    this.store.deviceTokens.add(set.id);
    return { deviceId: d.id, authSetId: set.id };
  }

  /**
   * A device deviceauth has just recorded: inventory gets its identity (setDeviceIdentity, which
   * leaves out `status`) and, through update_device_status, its status.
   */
  private newDevice(id: string, idData: string, identity: Record<string, unknown>, now: string): DeviceRecord {
    const scope: Record<string, AttributeValue> = {};
    for (const [k, v] of Object.entries(identity)) {
      if (k === 'status') continue;
      scope[k] = typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || Array.isArray(v) ? (v as AttributeValue) : JSON.stringify(v);
    }
    scope.status = 'noauth';
    const d: DeviceRecord = {
      id,
      identity: scope,
      inventory: {},
      tags: {},
      deviceconfigProvisioned: false,
      createdTs: now,
      updatedTs: now,
      behavior: {},
      idData,
      // Only world devices are simulated: one deviceauth records is a real client's.
      external: true,
    };
    this.store.devices.set(id, d);
    return d;
  }

  /** SetAuthSetStatus, with the handler's errors (UpdateDeviceStatusHandler). */
  setAuthSetStatus(deviceId: string, authId: string, status: AuthSetStatus): void {
    const set = this.store.authSets.get(authId);
    if (!set) throw notFound('authorization set not found');
    if (set.deviceId !== deviceId) throw badRequest('dev auth: dev ID and auth ID mismatch');
    if (set.status === status) return;
    if (!validTransition(set.status, status)) throw badRequest('dev auth: bad request');
    const d = this.get(deviceId);
    this.updateAuthSetStatus(set, status);
    this.aggregate(d);
  }

  /** PreauthorizeDevice: a new device with one preauthorized set; 409 with the device if known. */
  preauthorize(identity: Record<string, unknown>, pubkey: string, force: boolean): string {
    const sorted = sortedJson(identity);
    const now = this.clock.iso();
    const existing = this.deviceByIdData(sorted);
    if (existing) {
      if (!force) throw new DeviceExists(this.view(existing));
      // UpsertAuthSetStatus: the set with this identity and key becomes preauthorized.
      const set = this.authSetsOf(existing.id).find((a) => a.pubkey === pubkey);
      if (set) {
        set.status = 'preauthorized';
      } else {
        const added: AuthSetRecord = { id: newId(), deviceId: existing.id, idData: sorted, pubkey, status: 'preauthorized', ts: now };
        this.store.authSets.set(added.id, added);
      }
      return existing.id;
    }
    const d = this.newDevice(newId(), sorted, identity, now);
    const set: AuthSetRecord = { id: newId(), deviceId: d.id, idData: sorted, pubkey, status: 'preauthorized', ts: now };
    this.store.authSets.set(set.id, set);
    this.setDeviceStatus(d, 'preauthorized');
    return d.id;
  }

  /**
   * DecommissionDevice marks the device and starts decommission_device, which removes it from
   * deployments (its device deployments become `decommissioned`), deviceconfig, inventory and
   * deviceauth. The emulator runs the workflow at once.
   */
  decommission(deviceId: string): void {
    const d = this.get(deviceId);
    d.decommissioning = true;
    this.deployments.decommissionDevice(deviceId);
    this.revokeTokens(deviceId);
    for (const a of this.authSetsOf(deviceId)) this.store.authSets.delete(a.id);
    this.store.configs.delete(deviceId);
    this.store.devices.delete(deviceId);
  }

  /**
   * DeleteAuthSet: the set goes (with the device's tokens if it was accepted); a device left
   * with nothing after its preauthorized set goes too (deletePreauthDevice, inventory
   * included); otherwise the device's status is aggregated again. False: no such set.
   */
  deleteAuthSet(deviceId: string, authId: string): boolean {
    const set = this.store.authSets.get(authId);
    if (!set) return false;
    if (set.status === 'accepted') this.revokeTokens(set.deviceId);
    this.store.authSets.delete(authId);
    const d = this.store.devices.get(deviceId);
    if (!d) return true;
    const rest = this.authSetsOf(deviceId).map((a) => a.status);
    if (set.status === 'preauthorized' && deviceStatusFromAuthSets(rest) === 'noauth') {
      this.store.configs.delete(deviceId);
      this.store.devices.delete(deviceId);
      return true;
    }
    this.aggregate(d);
    return true;
  }

  /** GetDevCountByStatus; the handler takes only the five statuses or none. */
  count(status: string | undefined): number {
    let n = 0;
    for (const d of this.store.devices.values()) if (!status || this.statusOf(d) === status) n++;
    return n;
  }

  /** GetDevices with a DeviceFilter, oldest first (the store sorts by created_ts). */
  list(filter: { status?: readonly string[]; ids?: readonly string[] }): DeviceRecord[] {
    const out: DeviceRecord[] = [];
    for (const d of this.store.devices.values()) {
      if (filter.status?.length && !filter.status.includes(this.statusOf(d))) continue;
      if (filter.ids?.length && !filter.ids.includes(d.id)) continue;
      out.push(d);
    }
    return out.sort((a, b) => a.createdTs.localeCompare(b.createdTs) || a.id.localeCompare(b.id));
  }

  /** A device token is good while its set is the device's accepted one (VerifyToken). */
  tokenValid(deviceId: string, jti: string): boolean {
    const set = this.store.authSets.get(jti);
    return !!set && set.deviceId === deviceId && set.status === 'accepted' && this.store.deviceTokens.has(jti);
  }
}
