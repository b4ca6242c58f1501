import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { closest, FleetDescriptionError, FleetIssue } from './issues';
import {
  ANSIBLE_GROUP_NAME,
  Configuration,
  inventorySchema,
  KNOWN_VARIABLES,
  MENDER_DEVICE_ID,
  OsImage,
  variablesSchema,
  Variables,
} from './schema';
import { readYamlFile, YamlFile } from './yaml-file';

/** Where a value came from, so later checks (planning, rendering) can point at it. */
export interface Origin {
  file: string;
  line?: number;
}

export interface DeviceDescription {
  id: string;
  group: string;
  origin: Origin;
  /** Variables after Ansible's precedence: all < group < host. */
  variables: Record<string, unknown>;
  subscribedBranch?: string;
  osImages: OsImage[];
  osImagesOrigin?: Origin;
  configuration?: Configuration;
  configurationOrigin?: Origin;
  menderServer?: string;
}

export interface TemplateFile {
  name: string;
  file: string;
  text: string;
}

export interface FleetDescription {
  dir: string;
  devices: DeviceDescription[];
  groups: Map<string, string[]>;
  templates: Map<string, TemplateFile>;
}

interface VariableLayer {
  source: YamlFile;
  /** Where the variables sit inside the file (empty for group_vars/host_vars files). */
  at: (string | number)[];
  values: Variables;
}

const YAML_EXTENSIONS = ['.yml', '.yaml'];

function zodIssues(error: z.ZodError, source: YamlFile, at: (string | number)[], known: (keyPath: PropertyKey[]) => readonly string[]): FleetIssue[] {
  return error.issues.map((issue) => {
    const keyPath = [...at, ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const suggestion = closest(key, known(issue.path));
        const line = source.lineOf([...keyPath, key]);
        return {
          file: source.file,
          line,
          message: `unknown key "${key}"${suggestion ? `; did you mean "${suggestion}"?` : ''} (allowed here: ${known(issue.path).join(', ')})`,
        };
      });
    }
    const where = keyPath.length > 0 ? `${keyPath.join('.')}: ` : '';
    const missing = issue.code === 'invalid_type' && /received undefined$/.test(issue.message);
    const message = missing ? `${keyPath.join('.')} is missing` : `${where}${issue.message}`;
    return [{ file: source.file, line: source.lineOf(keyPath), message }];
  }).flat();
}

function knownKeysAt(keyPath: PropertyKey[]): readonly string[] {
  const last = keyPath.filter((p) => typeof p === 'string').at(-1);
  if (last === 'os_image') return ['device_type', 'image_name'];
  if (last === 'configuration') return ['template', 'parameters'];
  return [];
}

function checkVariables(source: YamlFile, at: (string | number)[], raw: unknown, issues: FleetIssue[]): Variables | undefined {
  if (raw === null || raw === undefined) return {};
  const parsed = variablesSchema.safeParse(raw);
  if (!parsed.success) {
    issues.push(...zodIssues(parsed.error, source, at, knownKeysAt));
    return undefined;
  }
  // Any key is a template variable, but one that is a near miss of a key the project reads is
  // almost always a typo that would silently do nothing.
  for (const key of Object.keys(parsed.data)) {
    if ((KNOWN_VARIABLES as readonly string[]).includes(key)) continue;
    const suggestion = closest(key, KNOWN_VARIABLES, 2);
    if (suggestion) {
      issues.push({ file: source.file, line: source.lineOf([...at, key]), message: `unknown key "${key}"; did you mean "${suggestion}"?` });
    }
  }
  return parsed.data;
}

function listYaml(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => YAML_EXTENSIONS.includes(path.extname(f))).sort();
}

/** Reads and checks the fleet description offline. Throws FleetDescriptionError with every issue found. */
export function loadFleet(fleetDir: string): FleetDescription {
  const issues: FleetIssue[] = [];
  const description = readFleet(fleetDir, issues);
  if (issues.length > 0 || !description) throw new FleetDescriptionError(issues);
  return description;
}

export function readFleet(fleetDir: string, issues: FleetIssue[]): FleetDescription | undefined {
  const inventoryName = YAML_EXTENSIONS.map((ext) => `inventory${ext}`).find((f) => fs.existsSync(path.join(fleetDir, f)));
  if (!fs.existsSync(fleetDir)) {
    issues.push({ file: fleetDir, message: 'the fleet folder does not exist; set fleet:path or --fleet to the folder holding inventory.yml' });
    return undefined;
  }
  if (!inventoryName) {
    issues.push({ file: 'inventory.yml', message: 'missing: the fleet folder must hold inventory.yml (all.children.<group>.hosts.<device id>)' });
    return undefined;
  }
  const inventoryFile = readYamlFile(fleetDir, inventoryName, issues);
  if (!inventoryFile) return undefined;
  const inventory = inventorySchema.safeParse(inventoryFile.data);
  if (!inventory.success) {
    issues.push(...zodIssues(inventory.error, inventoryFile, [], (p) => (p.length === 0 ? ['all'] : p.length === 1 ? ['children', 'hosts', 'vars'] : ['hosts', 'vars'])));
    return undefined;
  }

  const groups = new Map<string, string[]>();
  const membership = new Map<string, { group: string; origin: Origin; inline: VariableLayer | undefined }>();
  const groupLayers = new Map<string, VariableLayer[]>();
  const allLayers: VariableLayer[] = [];
  const addHosts = (group: string, hosts: Record<string, Record<string, unknown> | null> | undefined, at: (string | number)[]) => {
    const ids: string[] = [];
    for (const [id, inline] of Object.entries(hosts ?? {})) {
      const origin = { file: inventoryFile.file, line: inventoryFile.lineOf([...at, id]) };
      if (!MENDER_DEVICE_ID.test(id)) {
        issues.push({ ...origin, message: `"${id}" is not a Mender device id; use the device's id from Mender (a UUID such as 9f1c2b3a-4d5e-4f60-a172-8394a5b6c7d8)` });
        continue;
      }
      const earlier = membership.get(id);
      if (earlier) {
        issues.push({ ...origin, message: `device ${id} is listed twice (also in group "${earlier.group}" at ${earlier.origin.file}:${earlier.origin.line}); list each device in one group` });
        continue;
      }
      const values = inline ? checkVariables(inventoryFile, [...at, id], inline, issues) : undefined;
      membership.set(id, { group, origin, inline: values ? { source: inventoryFile, at: [...at, id], values } : undefined });
      ids.push(id);
    }
    groups.set(group, ids);
  };

  for (const [group, body] of Object.entries(inventory.data.all.children ?? {})) {
    if (!ANSIBLE_GROUP_NAME.test(group)) {
      issues.push({ file: inventoryFile.file, line: inventoryFile.lineOf(['all', 'children', group]), message: `group name "${group}" must be letters, digits and underscores, starting with a letter (as Ansible requires)` });
      continue;
    }
    addHosts(group, body?.hosts ?? undefined, ['all', 'children', group, 'hosts']);
    if (body?.vars) {
      const values = checkVariables(inventoryFile, ['all', 'children', group, 'vars'], body.vars, issues);
      if (values) groupLayers.set(group, [{ source: inventoryFile, at: ['all', 'children', group, 'vars'], values }]);
    }
  }
  if (inventory.data.all.hosts) addHosts('ungrouped', inventory.data.all.hosts, ['all', 'hosts']);
  if (inventory.data.all.vars) {
    const values = checkVariables(inventoryFile, ['all', 'vars'], inventory.data.all.vars, issues);
    if (values) allLayers.push({ source: inventoryFile, at: ['all', 'vars'], values });
  }

  for (const name of listYaml(path.join(fleetDir, 'group_vars'))) {
    const group = path.basename(name, path.extname(name));
    const source = readYamlFile(fleetDir, path.join('group_vars', name), issues);
    if (!source) continue;
    if (group !== 'all' && !groups.has(group)) {
      const suggestion = closest(group, [...groups.keys()]);
      issues.push({ file: source.file, line: 1, message: `there is no group "${group}" in the inventory${suggestion ? `; did you mean "${suggestion}"?` : ''}` });
      continue;
    }
    const values = checkVariables(source, [], source.data, issues);
    if (!values) continue;
    const layer = { source, at: [], values };
    if (group === 'all') allLayers.unshift(layer);
    else groupLayers.set(group, [layer, ...(groupLayers.get(group) ?? [])]);
  }

  const hostLayers = new Map<string, VariableLayer>();
  for (const name of listYaml(path.join(fleetDir, 'host_vars'))) {
    const id = path.basename(name, path.extname(name));
    const source = readYamlFile(fleetDir, path.join('host_vars', name), issues);
    if (!source) continue;
    if (!membership.has(id)) {
      const suggestion = closest(id, [...membership.keys()], 4);
      issues.push({ file: source.file, line: 1, message: `device ${id} is not in the inventory; add it to a group in inventory.yml${suggestion ? ` (or did you mean ${suggestion}?)` : ''}` });
      continue;
    }
    const values = checkVariables(source, [], source.data, issues);
    if (values) hostLayers.set(id, { source, at: [], values });
  }

  const templates = readTemplates(fleetDir);
  const devices: DeviceDescription[] = [];
  for (const [id, member] of membership) {
    const layers = [...allLayers, ...(groupLayers.get(member.group) ?? []), ...(member.inline ? [member.inline] : []), ...(hostLayers.has(id) ? [hostLayers.get(id)!] : [])];
    const device = mergeLayers(id, member.group, member.origin, layers);
    if (device.configuration && !templates.has(device.configuration.template)) {
      const suggestion = closest(device.configuration.template, [...templates.keys()]);
      issues.push({
        ...device.configurationOrigin!,
        message: `device ${id}: template "${device.configuration.template}" does not exist in templates/${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
      });
    }
    devices.push(device);
  }
  return { dir: fleetDir, devices, groups, templates };
}

function mergeLayers(id: string, group: string, origin: Origin, layers: VariableLayer[]): DeviceDescription {
  const variables: Record<string, unknown> = {};
  const origins: Record<string, Origin> = {};
  // Ansible replaces a variable as a whole when a more specific layer sets it (no deep merge).
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values)) {
      variables[key] = value;
      // A configuration is located by its template line: that is what most messages are about.
      const keyPath = key === 'configuration' ? [...layer.at, key, 'template'] : [...layer.at, key];
      origins[key] = { file: layer.source.file, line: layer.source.lineOf(keyPath) };
    }
  }
  return {
    id,
    group,
    origin,
    variables,
    subscribedBranch: variables.subscribed_branch as string | undefined,
    osImages: (variables.os_image as OsImage[] | undefined) ?? [],
    osImagesOrigin: origins.os_image,
    configuration: variables.configuration as Configuration | undefined,
    configurationOrigin: origins.configuration,
    menderServer: variables.mender_server as string | undefined,
  };
}

function readTemplates(fleetDir: string): Map<string, TemplateFile> {
  const dir = path.join(fleetDir, 'templates');
  const templates = new Map<string, TemplateFile>();
  if (!fs.existsSync(dir)) return templates;
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join('templates', name);
    if (!fs.statSync(path.join(fleetDir, file)).isFile()) continue;
    templates.set(name, { name, file, text: fs.readFileSync(path.join(fleetDir, file), 'utf8') });
  }
  return templates;
}
