import { spawn } from 'node:child_process';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..');

export interface PulumiRun {
  code: number;
  output: string;
}

/** Runs the pinned CLI (scripts/pulumi), showing its output as it comes and keeping a copy. */
export function runPulumi(args: string[], env: NodeJS.ProcessEnv, options: { quiet?: boolean } = {}): Promise<PulumiRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(repoRoot, 'scripts', 'pulumi'), ...args, '--non-interactive'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer, stream: NodeJS.WriteStream) => {
      output += chunk.toString();
      if (!options.quiet) stream.write(chunk);
    };
    child.stdout.on('data', (c: Buffer) => keep(c, process.stdout));
    child.stderr.on('data', (c: Buffer) => keep(c, process.stderr));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}
