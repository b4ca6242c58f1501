// The state file: a JSON snapshot written atomically (temporary file, fsync, rename), plus the
// uploaded .mender files in a directory beside it.
import { promises as fs, existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Snapshot, Store } from './store';

export class StateFile {
  private chain: Promise<void> = Promise.resolve();
  private seq = 0;

  constructor(readonly file: string) {}

  private get artifactDir(): string {
    return `${this.file}.artifacts`;
  }

  exists(): boolean {
    return existsSync(this.file);
  }

  load(): Store {
    let snapshot: Snapshot;
    try {
      snapshot = JSON.parse(readFileSync(this.file, 'utf8')) as Snapshot;
    } catch (err) {
      throw new Error(`${this.file}: cannot read emulator state: ${(err as Error).message}`, { cause: err });
    }
    if (snapshot.version !== 2) {
      throw new Error(`${this.file}: emulator state of version ${String(snapshot.version)}, this emulator reads version 2; delete the file to start from the world again`);
    }
    const files = new Map<string, Buffer>();
    if (existsSync(this.artifactDir)) {
      for (const name of readdirSync(this.artifactDir)) {
        if (name.endsWith('.mender')) files.set(name.slice(0, -'.mender'.length), readFileSync(path.join(this.artifactDir, name)));
      }
    }
    return Store.fromSnapshot(snapshot, files);
  }

  /** Saves the store; saves are serialised so an older snapshot never overwrites a newer one. */
  save(store: Store): Promise<void> {
    const text = JSON.stringify(store.snapshot());
    const files = [...store.artifactFiles];
    const run = async (): Promise<void> => {
      await fs.mkdir(path.dirname(path.resolve(this.file)), { recursive: true });
      if (files.length > 0) await fs.mkdir(this.artifactDir, { recursive: true });
      for (const [id, buf] of files) {
        const target = path.join(this.artifactDir, `${id}.mender`);
        if (!existsSync(target)) await writeAtomic(target, buf, `${++this.seq}`);
      }
      await writeAtomic(this.file, text, `${++this.seq}`);
    };
    this.chain = this.chain.then(run, run);
    return this.chain;
  }
}

async function writeAtomic(file: string, data: string | Buffer, suffix: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${suffix}`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
}
