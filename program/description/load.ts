import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { closest, FleetDescriptionError, FleetIssue } from './issues';
import { isTemplate } from './jinja';
import { ANSIBLE_GROUP_NAME, inventorySchema, KNOWN_VARIABLES, MENDER_DEVICE_ID, variablesSchema, Variables } from './schema';
import type { RawVariable } from './variables';
import { readFleetText, readYamlFile, YamlFile } from './yaml-file';

/** Where a value came from, so later checks (planning, rendering) can point at it. */
export interface Origin {
  file: string;
  line?: number;
}

export interface DeviceDescription {
  id: string;
  group: string;
  origin: Origin;
  /**
   * Variables after Ansible's precedence (all < group < host; a more specific file replaces a
   * variable as a whole), as written: they are templated when used (variables.ts).
   */
  variables: ReadonlyMap<string, RawVariable>;
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
  /** The template folders searched, relative to the fleet folder, as messages name them. */
  templateDirs: string[];
}

export interface FleetOptions {
  /** host_vars of devices not in the inventory are errors (Ansible ignores them: a warning by default). */
  strict?: boolean;
  /** The template folder (relative to the fleet folder); default: templates/, then roles/apply_configuration/templates/. */
  templates?: string;
}

/** Where an edi-cd style repository keeps its templates, in the order they are searched. */
export const DEFAULT_TEMPLATE_DIRS = ['templates', 'roles/apply_configuration/templates'];

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
  // A known variable written as a template ("{{ images }}") is checked once it is templated.
  const templated = Object.entries(raw as Record<string, unknown>).filter(
    ([key, value]) => (KNOWN_VARIABLES as readonly string[]).includes(key) && typeof value === 'string' && isTemplate(value),
  );
  const plain = typeof raw === 'object' && !Array.isArray(raw) ? Object.fromEntries(Object.entries(raw).filter(([key]) => !templated.some(([t]) => t === key))) : raw;
  const parsed = variablesSchema.safeParse(plain);
  if (!parsed.success) {
    issues.push(...zodIssues(parsed.error, source, at, knownKeysAt));
    return undefined;
  }
  Object.assign(parsed.data, Object.fromEntries(templated));
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
export function loadFleet(fleetDir: string, options: FleetOptions = {}): FleetDescription {
  const issues: FleetIssue[] = [];
  const description = readFleet(fleetDir, issues, options);
  if (issues.length > 0 || !description) throw new FleetDescriptionError(issues);
  return description;
}

export function readFleet(fleetDir: string, issues: FleetIssue[], options: FleetOptions = {}, warnings: FleetIssue[] = []): FleetDescription | undefined {
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
  const stale: string[] = [];
  for (const name of listYaml(path.join(fleetDir, 'host_vars'))) {
    const id = path.basename(name, path.extname(name));
    const source = readYamlFile(fleetDir, path.join('host_vars', name), issues);
    if (!source) continue;
    if (!membership.has(id)) {
      stale.push(source.file);
      if (options.strict) {
        const suggestion = closest(id, [...membership.keys()], 4);
        issues.push({ file: source.file, line: 1, message: `device ${id} is not in the inventory; add it to a group in inventory.yml${suggestion ? ` (or did you mean ${suggestion}?)` : ''}` });
      }
      continue;
    }
    const values = checkVariables(source, [], source.data, issues);
    if (values) hostLayers.set(id, { source, at: [], values });
  }
  // Ansible ignores variables of hosts that are not in the inventory; so do we, but say so.
  if (stale.length > 0 && !options.strict) {
    warnings.push({
      file: 'host_vars',
      message: `${stale.length} host_vars file${stale.length === 1 ? ' is' : 's are'} for devices not in the inventory and ignored: ${stale.join(', ')}; delete ${stale.length === 1 ? 'it' : 'them'}, or add the devices to inventory.yml (fleet:strict makes this an error)`,
    });
  }

  const templateDirs = options.templates ? [options.templates.replace(/\/+$/, '')] : DEFAULT_TEMPLATE_DIRS;
  if (options.templates && !fs.existsSync(path.join(fleetDir, templateDirs[0]))) {
    issues.push({ file: templateDirs[0], message: `the template folder set with fleet:templates does not exist in ${fleetDir}` });
  }
  const templates = readTemplates(fleetDir, templateDirs, issues);
  const devices: DeviceDescription[] = [];
  for (const [id, member] of membership) {
    const layers = [...allLayers, ...(groupLayers.get(member.group) ?? []), ...(member.inline ? [member.inline] : []), ...(hostLayers.has(id) ? [hostLayers.get(id)!] : [])];
    devices.push({ id, group: member.group, origin: member.origin, variables: mergeLayers(layers) });
  }
  const existing = templateDirs.filter((dir) => fs.existsSync(path.join(fleetDir, dir)));
  return { dir: fleetDir, devices, groups, templates, templateDirs: existing.length > 0 ? existing : templateDirs };
}

function mergeLayers(layers: VariableLayer[]): Map<string, RawVariable> {
  const variables = new Map<string, RawVariable>();
  // Ansible replaces a variable as a whole when a more specific layer sets it (no deep merge).
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values)) {
      const at = [...layer.at, key];
      variables.set(key, { value, origin: { file: layer.source.file, lineOf: (keyPath) => layer.source.lineOf([...at, ...keyPath]) } });
    }
  }
  return variables;
}

/** The templates of every folder, by file name; the first folder holding a name wins. */
function readTemplates(fleetDir: string, dirs: readonly string[], issues: FleetIssue[]): Map<string, TemplateFile> {
  const templates = new Map<string, TemplateFile>();
  for (const dir of dirs) {
    const absolute = path.join(fleetDir, dir);
    if (!fs.existsSync(absolute) || !fs.statSync(absolute).isDirectory()) continue;
    for (const name of fs.readdirSync(absolute).sort()) {
      const file = path.posix.join(dir, name);
      const stat = fs.lstatSync(path.join(fleetDir, file));
      if (templates.has(name) || !(stat.isFile() || stat.isSymbolicLink())) continue;
      const text = readFleetText(fleetDir, file, issues);
      if (text !== undefined) templates.set(name, { name, file, text });
    }
  }
  return templates;
}
