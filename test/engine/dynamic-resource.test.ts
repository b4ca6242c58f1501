// Drives one dynamic resource through the real Pulumi CLI on a throw-away file backend. This is
// the proof that the engine, our language host and the dynamic provider plugin work together.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initStack, pulumiWorkspace, repoRoot, PulumiWorkspace } from '../helpers/pulumi';
import { step } from '../helpers/step';

const program = path.join(repoRoot, 'test', 'fixtures', 'engine-probe');
const stack = 'probe';

describe('the real Pulumi engine with a dynamic resource', () => {
  let ws: PulumiWorkspace;
  let workDir: string;
  let notePath: string;
  const inProgram = () => ({ cwd: program });

  beforeAll(async () => {
    ws = pulumiWorkspace();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-probe-'));
    notePath = path.join(workDir, 'note.txt');
    await initStack(ws, { stack, cwd: program, config: { 'engine-probe:path': notePath, 'engine-probe:text': 'first' } });
  });

  afterAll(async () => {
    await ws?.run(['stack', 'rm', stack, '--yes', '--force'], inProgram());
    ws?.dispose();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('is the pinned CLI version', async () => {
    const { stdout } = await ws.ok(['version']);
    const pinned = JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules/@pulumi/pulumi/package.json'), 'utf8')).version;
    expect(stdout.trim()).toBe(`v${pinned}`);
  });

  it('a dynamic resource from preview to destroy', async () => {
    await step('previews a create without creating anything', async () => {
      const { stdout } = await ws.ok(['preview', '--stack', stack, '--diff'], inProgram());
      expect(stdout).toMatch(/\+ 2 to create/);
      expect(stdout).toContain('engine-probe:Note');
      expect(fs.existsSync(notePath)).toBe(false);
    });
    await step('creates on up, then a second up changes nothing', async () => {
      const first = await ws.ok(['up', '--yes', '--skip-preview', '--stack', stack], inProgram());
      expect(first.stdout).toMatch(/2 created/);
      expect(fs.readFileSync(notePath, 'utf8')).toBe('first');

      const second = await ws.ok(['up', '--yes', '--skip-preview', '--stack', stack], inProgram());
      expect(second.stdout).toMatch(/2 unchanged/);
      expect(second.stdout).not.toMatch(/created|updated|deleted/);
    });
    await step('updates when an input changes', async () => {
      await ws.ok(['config', 'set', 'text', 'second', '--stack', stack], inProgram());
      const { stdout } = await ws.ok(['up', '--yes', '--skip-preview', '--stack', stack], inProgram());
      expect(stdout).toMatch(/1 updated/);
      expect(fs.readFileSync(notePath, 'utf8')).toBe('second');
      const outputs = await ws.ok(['stack', 'output', 'text', '--stack', stack], inProgram());
      expect(outputs.stdout.trim()).toBe('second');
    });
    await step('lists each update in the stack history', async () => {
      const { stdout } = await ws.ok(['stack', 'history', '--json', '--stack', stack], inProgram());
      const history = JSON.parse(stdout) as Array<{ kind: string; result: string; resourceChanges?: Record<string, number> }>;
      expect(history.map((u) => [u.kind, u.result])).toEqual([
        ['update', 'succeeded'],
        ['update', 'succeeded'],
        ['update', 'succeeded'],
      ]);
      // Newest first: the config change, the no-op, the first create.
      expect(history[0].resourceChanges).toMatchObject({ update: 1 });
      expect(history[2].resourceChanges).toMatchObject({ create: 2 });
    });
    await step('removes the resource on destroy', async () => {
      const { stdout } = await ws.ok(['destroy', '--yes', '--stack', stack], inProgram());
      expect(stdout).toMatch(/2 deleted/);
      expect(fs.existsSync(notePath)).toBe(false);
    });
  }, 1_200_000);
});
