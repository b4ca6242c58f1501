// The program's pipeline (program/pipeline/) for `fleet plan`, outside the engine: the stack's
// configuration comes from `pulumi config` (project defaults included, secrets in clear, kept
// in this process) instead of the engine's runtime, and goes through the same settings reader.
import * as path from 'node:path';
import { readStackSettings, StackConfig, StackSettings } from '../program/pipeline/settings';
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
