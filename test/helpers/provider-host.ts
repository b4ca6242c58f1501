// Pulumi's own dynamic provider host (`@pulumi/pulumi/cmd/dynamic-provider`, the process the
// engine starts as `pulumi-resource-pulumi-nodejs`), driven over its gRPC ResourceProvider service
// as the engine drives it, without the CLI: each call carries the `__provider` text the program
// stores (provider/serialized-provider.ts), so the host deserializes, configures and calls our
// providers exactly as in an update, and answers in the protocol's terms (check failures, diff
// changes and replaces, an ErrorResourceInitFailed detail for a partial failure). The provider
// tier of the suite (docs/development.md, "Test tiers"), as pulumi-command tests its provider
// against an in-memory server.
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as provrpc from '@pulumi/pulumi/proto/provider_grpc_pb';
import * as provproto from '@pulumi/pulumi/proto/provider_pb';
import * as statusproto from '@pulumi/pulumi/proto/status_pb';
import * as structproto from 'google-protobuf/google/protobuf/struct_pb';
import type { World } from '../../emulator';
import { providerSource, ResourceKind } from '../../provider/serialized-provider';
import { EmulatorHandle, emulatorFor } from './emulator';
import { repoRoot } from './pulumi';

/** The engine's marker for a value not known until apply (a preview's unknown output). */
export const UNKNOWN = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';
const SECRET_SIG = { key: '4dabf18193072939515e22adb298388d', value: '1b47061264138c4ac30d75fd1eb44270' };

type Props = Record<string, unknown>;

export interface CheckResult {
  inputs: Props;
  failures: { property: string; reason: string }[];
}

export interface DiffResult {
  changes: 'none' | 'some' | 'unknown';
  replaces: string[];
  deleteBeforeReplace: boolean;
}

/** A failed call as the engine receives it: the message, and for a partial failure what was made. */
export class HostError extends Error {
  constructor(
    message: string,
    /** ErrorResourceInitFailed: the resource exists with these properties, though the operation failed. */
    readonly initFailed?: { id: string; properties: Props; reasons: string[] },
  ) {
    super(message);
    this.name = 'HostError';
  }
}

export interface ProviderHost {
  /** The engine's Configure: the stack's configuration, secret keys wrapped as the engine wraps them. */
  configure(config: Record<string, string>, secretKeys?: string[]): Promise<void>;
  /** Check(olds = the old inputs, news = the program's inputs). */
  check(kind: ResourceKind, name: string, olds: Props, news: Props): Promise<CheckResult>;
  /** Diff(olds = the state's outputs, news = the checked inputs). */
  diff(kind: ResourceKind, name: string, id: string, olds: Props, news: Props): Promise<DiffResult>;
  create(kind: ResourceKind, name: string, inputs: Props): Promise<{ id: string; outs: Props }>;
  read(kind: ResourceKind, name: string, id: string, props: Props, inputs?: Props): Promise<{ id: string; props: Props; inputs?: Props }>;
  update(kind: ResourceKind, name: string, id: string, olds: Props, news: Props): Promise<Props>;
  delete(kind: ResourceKind, name: string, id: string, props: Props): Promise<void>;
  /** What the providers printed after the port (the engine shows it with the resource), and the host's stderr (a failed call's stack). */
  output(): { stdout: string; stderr: string };
  close(): Promise<void>;
}

/** The request's resource, as the engine names it (every request carries its URN, name and type). */
function addressed<R extends { setUrn(v: string): R; setName(v: string): R; setType(v: string): R }>(req: R, kind: ResourceKind, name: string): R {
  return req.setUrn(urn(kind, name)).setName(name).setType(typeOf(kind));
}

const urn = (kind: ResourceKind, name: string) => `urn:pulumi:test::mender-fleet::pulumi-nodejs:dynamic/mender:${kind}::${name}`;
const typeOf = (kind: ResourceKind) => `pulumi-nodejs:dynamic/mender:${kind}`;

// The engine never sends undefined; a struct cannot hold it.
function toStruct(props: Props): structproto.Struct {
  return structproto.Struct.fromJavaScript(JSON.parse(JSON.stringify(props)) as Record<string, structproto.JavaScriptValue>);
}

function fromStruct(struct: structproto.Struct | undefined): Props {
  return (struct?.toJavaScript() ?? {}) as Props;
}

/** The engine's view of a failed call: the status message, and the init-failure detail if any. */
function hostError(error: grpc.ServiceError): HostError {
  const detailsBin = error.metadata?.get('grpc-status-details-bin')[0];
  if (detailsBin) {
    const status = statusproto.Status.deserializeBinary(new Uint8Array(detailsBin as Buffer));
    for (const any of status.getDetailsList()) {
      if (any.getTypeName() === 'pulumirpc.ErrorResourceInitFailed') {
        const detail = provproto.ErrorResourceInitFailed.deserializeBinary(any.getValue_asU8());
        return new HostError(status.getMessage(), { id: detail.getId(), properties: fromStruct(detail.getProperties()), reasons: detail.getReasonsList() });
      }
    }
  }
  return new HostError(error.details || error.message);
}

/**
 * The emulator with `world` and a host configured for it with `token` (as the engine configures
 * the provider from the stack's mender:serverUrl and secret mender:token); `close` stops both.
 */
export async function hostWithEmulator(world: World, token: string): Promise<{ emu: EmulatorHandle; host: ProviderHost; close(): Promise<void> }> {
  const emu = await emulatorFor(world, token);
  const host = await startProviderHost().catch(async (error: unknown) => {
    await emu.emulator.close();
    throw error;
  });
  await host.configure({ 'mender:serverUrl': emu.emulator.url, 'mender:token': token }, ['mender:token']);
  return {
    emu,
    host,
    async close() {
      await host.close();
      await emu.emulator.close();
    },
  };
}

/**
 * Starts the host in its own process, in `programDir` (where the engine starts it: the program's
 * folder, from which the stored `__provider` finds the project), and connects to it.
 */
export async function startProviderHost(programDir: string = repoRoot): Promise<ProviderHost> {
  // What the plugin wrapper of scripts/engine starts: Pulumi's host through bin/dynamic-provider.js.
  // The engine's address is the host's only argument; our providers never call back to it.
  const script = path.join(repoRoot, 'bin', 'dynamic-provider.js');
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [script, '127.0.0.1:0'], {
    cwd: programDir,
    env: { ...process.env, PULUMI_PROJECT: 'mender-fleet', PULUMI_STACK: 'test' },
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const port = await new Promise<string>((resolve, reject) => {
    const listening = () => {
      const newline = stdout.indexOf('\n');
      if (newline < 0) return;
      child.stdout.off('data', listening);
      resolve(stdout.slice(0, newline).trim());
      stdout = stdout.slice(newline + 1);
    };
    child.stdout.on('data', listening);
    child.once('exit', (code) => reject(new Error(`the dynamic provider host exited ${code} before it listened:\n${stderr}`)));
  });
  const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());

  const unary = <Req, Res>(method: (req: Req, callback: (error: grpc.ServiceError | null, res: Res) => void) => unknown, req: Req) =>
    new Promise<Res>((resolve, reject) => {
      method.call(client, req, (error: grpc.ServiceError | null, res: Res) => (error ? reject(hostError(error)) : resolve(res)));
    });
  const withProvider = (kind: ResourceKind, props: Props): Props => ({ ...props, __provider: providerSource(kind, programDir) });

  return {
    async configure(config, secretKeys = []) {
      const args: Props = {};
      for (const [key, value] of Object.entries(config)) {
        args[key] = secretKeys.includes(key) ? { [SECRET_SIG.key]: SECRET_SIG.value, value } : value;
      }
      const req = new provproto.ConfigureRequest();
      req.setArgs(toStruct(args));
      req.setAcceptsecrets(true);
      req.setAcceptresources(true);
      await unary(client.configure, req);
    },
    async check(kind, name, olds, news) {
      const req = addressed(new provproto.CheckRequest(), kind, name);
      req.setOlds(toStruct(olds));
      req.setNews(toStruct(withProvider(kind, news)));
      const res = await unary<provproto.CheckRequest, provproto.CheckResponse>(client.check, req);
      return {
        inputs: fromStruct(res.getInputs()),
        failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })),
      };
    },
    async diff(kind, name, id, olds, news) {
      const req = addressed(new provproto.DiffRequest(), kind, name);
      req.setId(id);
      req.setOlds(toStruct(olds));
      req.setNews(toStruct(withProvider(kind, news)));
      const res = await unary<provproto.DiffRequest, provproto.DiffResponse>(client.diff, req);
      const changes = res.getChanges();
      return {
        changes: changes === provproto.DiffResponse.DiffChanges.DIFF_SOME ? 'some' : changes === provproto.DiffResponse.DiffChanges.DIFF_NONE ? 'none' : 'unknown',
        replaces: res.getReplacesList(),
        deleteBeforeReplace: res.getDeletebeforereplace(),
      };
    },
    async create(kind, name, inputs) {
      const req = addressed(new provproto.CreateRequest(), kind, name);
      req.setProperties(toStruct(withProvider(kind, inputs)));
      const res = await unary<provproto.CreateRequest, provproto.CreateResponse>(client.create, req);
      return { id: res.getId(), outs: fromStruct(res.getProperties()) };
    },
    async read(kind, name, id, props, inputs) {
      const req = addressed(new provproto.ReadRequest(), kind, name);
      req.setId(id);
      req.setProperties(toStruct(withProvider(kind, props)));
      if (inputs) req.setInputs(toStruct(withProvider(kind, inputs)));
      const res = await unary<provproto.ReadRequest, provproto.ReadResponse>(client.read, req);
      return { id: res.getId(), props: fromStruct(res.getProperties()), inputs: res.hasInputs() ? fromStruct(res.getInputs()) : undefined };
    },
    async update(kind, name, id, olds, news) {
      const req = addressed(new provproto.UpdateRequest(), kind, name);
      req.setId(id);
      req.setOlds(toStruct(olds));
      req.setNews(toStruct(withProvider(kind, news)));
      const res = await unary<provproto.UpdateRequest, provproto.UpdateResponse>(client.update, req);
      return fromStruct(res.getProperties());
    },
    async delete(kind, name, id, props) {
      const req = addressed(new provproto.DeleteRequest(), kind, name);
      req.setId(id);
      req.setProperties(toStruct(withProvider(kind, props)));
      await unary(client.delete, req);
    },
    output: () => ({ stdout, stderr }),
    async close() {
      client.close();
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
