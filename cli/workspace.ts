// The CLI's way to the Pulumi engine: the Automation API (a LocalWorkspace over the project
// folder) driving the pinned CLI that scripts/engine makes available, with the defaults
// scripts/pulumi sets. Results are typed (summaries, outputs, config), never scraped text.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LocalWorkspace, PulumiCommand, Stack } from '@pulumi/pulumi/automation';
import { repoRoot } from './pulumi-runner';

export { repoRoot };

/** As scripts/pulumi says on a local backend without a passphrase: it protects nothing. */
const LOCAL_DEMO_PASSPHRASE = 'mender-fleet-local-demo';

let engineBin: Promise<string> | undefined;

/** The folder of the pinned `pulumi` and our `pulumi-language-nodejs` (scripts/engine, last line of its stdout). */
function engine(): Promise<string> {
  engineBin ??= new Promise((resolve, reject) => {
    execFile('bash', [path.join(repoRoot, 'scripts', 'engine'), '--quiet'], { cwd: repoRoot }, (error, stdout, stderr) => {
      if (error) reject(new Error(`scripts/engine could not provide the Pulumi engine: ${stderr.trim() || error.message}`));
      else resolve(stdout.trim().split('\n').pop()!);
    });
  });
  return engineBin;
}

/** The environment scripts/pulumi gives the CLI, on top of `env`. */
export function engineEnv(bin: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  // The engine's folder also holds the dynamic provider plugin and the language host.
  out.PATH = [bin, path.join(repoRoot, 'node_modules', '.bin'), env.PATH ?? ''].join(path.delimiter);
  out.PULUMI_SKIP_UPDATE_CHECK = 'true';
  // Type-checking the program on every run costs ~20 s; `npm run typecheck` checks the types.
  out.PULUMI_NODEJS_TRANSPILE_ONLY = env.PULUMI_NODEJS_TRANSPILE_ONLY ?? 'true';
  out.PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK = 'true';
  out.PULUMI_BACKEND_URL = env.PULUMI_BACKEND_URL || `file://${path.join(repoRoot, '.pulumi-state')}`;
  if (!env.PULUMI_CONFIG_PASSPHRASE && !env.PULUMI_CONFIG_PASSPHRASE_FILE) {
    if (!out.PULUMI_BACKEND_URL.startsWith('file://')) {
      throw new Error(`set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) for the backend ${out.PULUMI_BACKEND_URL}`);
    }
    out.PULUMI_CONFIG_PASSPHRASE = LOCAL_DEMO_PASSPHRASE;
  }
  return out;
}

/** A ring's stack of the fleet project, through the pinned engine; `create` makes it when missing. */
export async function ringStack(stackName: string, env: NodeJS.ProcessEnv = process.env, options: { create?: boolean } = {}): Promise<Stack> {
  const bin = await engine();
  const envVars = engineEnv(bin, env);
  if (envVars.PULUMI_BACKEND_URL.startsWith('file://')) {
    // The local backend's folder must exist (scripts/pulumi makes it too).
    fs.mkdirSync(new URL(envVars.PULUMI_BACKEND_URL.split('?')[0]), { recursive: true });
  }
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(bin), skipVersionCheck: true });
  const args = { stackName, workDir: repoRoot };
  const opts = { pulumiCommand, envVars };
  return options.create ? LocalWorkspace.createOrSelectStack(args, opts) : LocalWorkspace.selectStack(args, opts);
}
