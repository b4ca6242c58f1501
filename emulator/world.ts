// The world file: the YAML that seeds the emulator with artifacts, devices, tokens and users.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode } from 'yaml';
import { z } from 'zod';

const attributeValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.array(z.string()),
  z.array(z.number()),
]);

const behavior = z
  .object({
    fail_install: z.array(z.string()).optional(),
    rollback_after_reboot: z.array(z.string()).optional(),
    offline: z.boolean().optional(),
    slow: z.boolean().optional(),
    poll_interval_ms: z.number().int().positive().optional(),
    reject_config: z.boolean().optional(),
    first_poll_after_ms: z.number().int().nonnegative().optional(),
  })
  .strict();

const worldSchema = z
  .object({
    artifacts: z
      .array(
        z
          .object({
            name: z.string().min(1),
            device_types: z.array(z.string().min(1)).min(1),
            description: z.string().optional(),
            /**
             * The artifact's provides (e.g. a `rootfs-image.version` other than its name, as in
             * Mender's own examples); a device that installs it reports them in its inventory.
             */
            provides: z.record(z.string().min(1), z.string()).optional(),
            /**
             * A `.mender` file (e.g. written with mender-artifact) behind the artifact, so a real
             * client can download it; its name and device types must be the artifact's. A
             * relative path is from the world file's directory (from the working directory for a
             * world given as an object).
             */
            file: z.string().min(1).optional(),
          })
          .strict(),
      )
      .default([]),
    devices: z
      .array(
        z
          .object({
            id: z.string().min(1),
            device_type: z.string().min(1),
            artifact_name: z.string().min(1),
            attributes: z.record(z.string(), attributeValue).optional(),
            identity: z.record(z.string(), attributeValue).optional(),
            group: z.string().optional(),
            behavior: behavior.optional(),
            /** false: deviceconfig has no record of the device until the device reports one. */
            deviceconfig_provisioned: z.boolean().optional(),
            /**
             * true: a real client (a `mender` daemon with this identity) plays the device, so the
             * simulation never does, not even before the client first authenticates.
             */
            real_client: z.boolean().optional(),
          })
          .strict(),
      )
      .default([]),
    tokens: z.array(z.string().min(1)).default([]),
    users: z.array(z.object({ email: z.string().min(1), password: z.string() }).strict()).default([]),
  })
  .strict();

export type World = z.infer<typeof worldSchema>;
export type WorldDevice = World['devices'][number];
export type BehaviorInput = z.infer<typeof behavior>;
export const behaviorSchema = behavior;

/** A world file that cannot be used; the message names file and line. */
export class WorldError extends Error {
  override name = 'WorldError';
}

export function emptyWorld(): World {
  return { artifacts: [], devices: [], tokens: [], users: [] };
}

export function parseWorld(text: string, file = '<world>'): World {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const where = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new WorldError(`${where(e.pos[0])}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const data: unknown = doc.toJS() ?? {};
  const result = worldSchema.safeParse(data);
  if (!result.success) {
    const messages = result.error.issues.map((issue) => {
      // Point at the deepest node that exists on the issue's path.
      let offset: number | undefined;
      for (let n = issue.path.length; n >= 0 && offset === undefined; n--) {
        const node = doc.getIn(issue.path.slice(0, n) as (string | number)[], true);
        if (isNode(node) && node.range) offset = node.range[0];
      }
      const at = issue.path.length ? ` (${issue.path.join('.')})` : '';
      return `${where(offset)}: ${issue.message}${at}`;
    });
    throw new WorldError(messages.join('\n'));
  }
  const world = result.data;
  const seen = new Map<string, number>();
  world.devices.forEach((d, i) => {
    if (seen.has(d.id)) {
      const node = doc.getIn(['devices', i, 'id'], true);
      const offset = isNode(node) && node.range ? node.range[0] : undefined;
      throw new WorldError(`${where(offset)}: duplicate device id ${d.id}`);
    }
    seen.set(d.id, i);
  });
  return world;
}

export function loadWorldFile(path: string): World {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new WorldError(`${path}: cannot read world file: ${(err as Error).message}`);
  }
  const world = parseWorld(text, path);
  const dir = dirname(resolve(path));
  for (const a of world.artifacts) if (a.file && !isAbsolute(a.file)) a.file = resolve(dir, a.file);
  return world;
}
