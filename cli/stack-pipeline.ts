// The program's pipeline (program/pipeline/) outside the engine: for `fleet plan` the stack's
// configuration comes from `pulumi config` (project defaults included, secrets in clear, kept
// in this process) instead of the engine's runtime; for `fleet validate`, which runs no engine,
// from the project files alone. Both go through the same settings reader.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FleetIssue } from '../program/description/issues';
import { LOOKUP_ENV_KEY } from '../program/description/lookup-env';
import type { SecretSource } from '../program/description/variables';
import { parseYamlText, YamlFile } from '../program/description/yaml-file';
import { readStackSettings, SettingsIssue, StackConfig, StackSettings } from '../program/pipeline/settings';
import { pulumiCliJson, repoRoot } from './workspace';

/** `pulumi config --json` of one key. */
interface ConfigEntry {
  value?: string;
  objectValue?: unknown;
  secret?: boolean;
}

/** The stack's configuration as the engine would hand it to the program. */
export async function stackConfig(stack: string, env: NodeJS.ProcessEnv, configFile?: string): Promise<StackConfig> {
  const configArgs = configFile ? ['--config-file', path.resolve(configFile)] : [];
  const entries = await pulumiCliJson<Record<string, ConfigEntry>>(['config', '--json', '--show-secrets', '--stack', stack, ...configArgs], { env });
  const values: Record<string, string | undefined> = {};
  const secretKeys = new Set<string>();
  for (const [key, entry] of Object.entries(entries)) {
    // Lists and maps reach a program as JSON text; so they do here.
    values[key] = entry.objectValue !== undefined ? JSON.stringify(entry.objectValue) : entry.value;
    if (entry.secret) secretKeys.add(key);
  }
  // The engine names the stack without its organization and project.
  return { stack: stack.split('/').pop()!, values, secretKeys };
}

/** The settings the program would read for `stack`. */
export async function stackSettings(stack: string, env: NodeJS.ProcessEnv, configFile?: string): Promise<StackSettings> {
  return readStackSettings(await stackConfig(stack, env, configFile), { projectDir: repoRoot, env });
}

/** Where a key of the stack's configuration was set: the file, and the line of the value (or of an item in it). */
export interface ConfigOrigin {
  file: string;
  lineOf(index?: number): number | undefined;
}

/** A stack's configuration read from the project files, and where each key came from. */
export interface FileConfig {
  config: StackConfig;
  origins: ReadonlyMap<string, ConfigOrigin>;
  /** Files that cannot be read as YAML. */
  issues: FleetIssue[];
}

/** The text of a value as the engine hands it to a program: strings as they are, lists and maps as JSON. */
function configText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function readYaml(file: string, issues: FleetIssue[]): YamlFile | undefined {
  return fs.existsSync(file) ? parseYamlText(fs.readFileSync(file, 'utf8'), path.basename(file), issues) : undefined;
}

function configMap(yaml: YamlFile | undefined): Record<string, unknown> {
  const config = (yaml?.data as { config?: unknown } | null | undefined)?.config;
  return typeof config === 'object' && config !== null && !Array.isArray(config) ? (config as Record<string, unknown>) : {};
}

/**
 * The stack's configuration as the engine would resolve it, from the files alone: each key of
 * Pulumi.<stack>.yaml, over the defaults in Pulumi.yaml (a key without a namespace is the
 * project's). A secret value stays sealed: its key is secret and its value unset. Without a
 * stack, the project's defaults alone.
 */
export function stackConfigFromFiles(projectDir: string, stack?: string): FileConfig {
  const issues: FleetIssue[] = [];
  const values: Record<string, string | undefined> = {};
  const secretKeys = new Set<string>();
  const origins = new Map<string, ConfigOrigin>();
  const project = readYaml(path.join(projectDir, 'Pulumi.yaml'), issues);
  const name = (project?.data as { name?: unknown } | null | undefined)?.name;
  const fullKey = (key: string) => (key.includes(':') || typeof name !== 'string' ? key : `${name}:${key}`);
  for (const [key, declared] of Object.entries(configMap(project))) {
    // A declaration ({type, default, …}) gives its default; a plain value is the default itself.
    const declaration = typeof declared === 'object' && declared !== null && !Array.isArray(declared);
    if (declaration && !('default' in declared)) continue;
    const at = declaration ? ['config', key, 'default'] : ['config', key];
    values[fullKey(key)] = configText(declaration ? (declared as { default: unknown }).default : declared);
    origins.set(fullKey(key), { file: 'Pulumi.yaml', lineOf: (index) => project!.lineOf(index === undefined ? at : [...at, index]) });
  }
  if (stack) {
    const file = `Pulumi.${stack}.yaml`;
    const own = readYaml(path.join(projectDir, file), issues);
    for (const [key, value] of Object.entries(configMap(own))) {
      const sealed = typeof value === 'object' && value !== null && 'secure' in value;
      values[fullKey(key)] = sealed ? undefined : configText(value);
      if (sealed) secretKeys.add(fullKey(key));
      origins.set(fullKey(key), { file, lineOf: (index) => own!.lineOf(index === undefined ? ['config', key] : ['config', key, index]) });
    }
  }
  // Never shown: the settings' issues are located by `origins`, and no stack means no ring.
  return { config: { stack: stack ?? '', values, secretKeys }, origins, issues };
}

/** A settings issue at the file and line its key came from (an issue about one item of a list names it as `index`). */
export function locateSettingsIssue(issue: SettingsIssue, origins: ReadonlyMap<string, ConfigOrigin>): FleetIssue {
  const origin = origins.get(issue.key);
  if (!origin) return { file: issue.file, line: issue.line, message: issue.message };
  const index = 'index' in issue && typeof issue.index === 'number' ? issue.index : undefined;
  return { file: origin.file, line: origin.lineOf(index), message: issue.message };
}

/**
 * What `fleet validate` renders the templates with: the settings stage's secrets for the stack,
 * read from the project files, with `fleet:lookupEnv`'s source named by the file it came from.
 * `issues`: files that are not YAML, and what is wrong with fleet:lookupEnv, at file and line;
 * validate answers for the fleet files and that key only.
 */
export function validationSecrets(projectDir: string, stack: string | undefined, env: NodeJS.ProcessEnv): { secrets: SecretSource; issues: FleetIssue[] } {
  const files = stackConfigFromFiles(projectDir, stack);
  const settings = readStackSettings(files.config, { projectDir, env });
  const lookupEnvIssues = settings.issues.filter((issue) => issue.key === LOOKUP_ENV_KEY).map((issue) => locateSettingsIssue(issue, files.origins));
  return { secrets: { ...settings.secrets, lookupEnvSource: files.origins.get(LOOKUP_ENV_KEY)?.file }, issues: [...files.issues, ...lookupEnvIssues] };
}
