// The `emulator` command in a child process: first line, serving, clean stop on SIGTERM.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import axios from 'axios';

const dir = mkdtempSync(path.join(tmpdir(), 'emulator-cli-'));
let child: ChildProcess | undefined;
afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): ChildProcess {
  // Loads TypeScript the way bin/fleet.js does.
  const script = `
    require('ts-node').register({ transpileOnly: true, project: ${JSON.stringify(path.resolve(__dirname, '../../tsconfig.json'))} });
    const { Command } = require('commander');
    const { registerEmulatorCommand } = require(${JSON.stringify(path.resolve(__dirname, '../../cli/commands/emulator'))});
    const program = new Command('fleet');
    registerEmulatorCommand(program);
    program.parseAsync(process.argv);
  `;
  return spawn(process.execPath, ['-e', script, 'fleet', ...args], {
    cwd: path.resolve(__dirname, '../..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function output(p: ChildProcess): { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  p.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  return { stdout: () => out, stderr: () => err };
}

it('prints "listening on" first, serves the world, and stops on SIGTERM', async () => {
  const world = path.join(dir, 'world.yaml');
  writeFileSync(world, 'devices:\n  - {id: d1, device_type: pi4, artifact_name: a1}\n');
  child = run(['emulator', '--port', '0', '--world', world, '--token', 'cli-token', '--state', path.join(dir, 'state.json')]);
  const io = output(child);
  const deadline = Date.now() + 60000;
  while (!io.stdout().includes('\n') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const first = io.stdout().split('\n')[0];
  expect({ first, stderr: io.stderr() }).toEqual({ first: expect.stringMatching(/^listening on http:\/\/127\.0\.0\.1:\d+$/), stderr: '' });
  const url = first.replace('listening on ', '');
  const res = await axios.get(`${url}/api/management/v1/inventory/devices/d1`, { headers: { Authorization: 'Bearer cli-token' } });
  expect(res.data.id).toBe('d1');
  const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
});

it('exits 2 with a file:line message for a bad world file', async () => {
  const world = path.join(dir, 'bad.yaml');
  writeFileSync(world, 'devices:\n  - {id: d1, device_type: pi4}\n');
  const p = run(['emulator', '--world', world]);
  const io = output(p);
  const code = await new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  expect(code).toBe(2);
  expect(io.stderr()).toMatch(/bad\.yaml:2:\d+: .*artifact_name/);
});
