// The processes of one test workspace's Pulumi engine, found through /proc: the CLI starts the
// language host and the dynamic provider in process groups of their own, so killing the CLI's
// group does not reach them, but they all carry the workspace's backend URL.
import * as fs from 'node:fs';

/** Every process (zombies included) whose environment names this file backend. */
export function engineProcesses(backendDir: string): number[] {
  return engineProcessesOf(`file://${backendDir}`);
}

/** Every process (zombies included) whose environment names this backend URL (file, s3, ...). */
export function engineProcessesOf(backendUrl: string): number[] {
  const marker = `PULUMI_BACKEND_URL=${backendUrl}\0`;
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && Number(name) !== process.pid)
    .filter((name) => {
      try {
        return fs.readFileSync(`/proc/${name}/environ`, 'latin1').includes(marker);
      } catch {
        return false; // gone, or not ours
      }
    })
    .map(Number);
}

/** Not yet dead (a zombie waiting for its parent to reap it is dead). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /s.test(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

export function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

export function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
