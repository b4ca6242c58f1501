// How the fleet program batches configured devices into DeviceConfigurationSet resources
// (program/pipeline/declare.ts): one per (group, template), split into hash shards only above a size.
import { configurationBatches } from '../../program/pipeline/declare';
import type { Plan, PlannedDevice } from '../../program/pipeline/plan';

const device = (id: string, group: string, template: string | undefined): PlannedDevice => ({
  id,
  group,
  ring: 'canary',
  ringSource: 'git',
  deviceType: 'pi4-v3-arm64',
  desiredImage: 'pi4-2026.11',
  ...(template ? { configuration: { template, hash: 'h', values: { k: id }, secretKeys: [] } } : {}),
});

const plan = (devices: PlannedDevice[]): Plan => ({ ring: 'canary', devices, images: [], deployments: [], otherRings: [], warnings: [], errors: [] });
const ids = (n: number, prefix = 'd') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);

describe('configuration batches', () => {
  it('makes one batch per group and template, sorted, leaving unconfigured devices out', () => {
    const batches = configurationBatches(
      plan([device('b', 'pi4', 'kiosk.json'), device('a', 'pi4', 'kiosk.json'), device('c', 'pi4', 'runner.json'), device('d', 'lab', 'kiosk.json'), device('e', 'pi4', undefined)]),
    );
    expect(batches.map((b) => [b.name, b.shard, b.devices.map((d) => d.id)])).toEqual([
      ['lab/kiosk.json', undefined, ['d']],
      ['pi4/kiosk.json', undefined, ['a', 'b']],
      ['pi4/runner.json', undefined, ['c']],
    ]);
  });

  it('splits a pair above the limit into a power of two of shards, every device in exactly one', () => {
    const devices = ids(10).map((id) => device(id, 'pi4', 'kiosk.json'));
    const batches = configurationBatches(plan(devices), 4);
    // 10 devices, at most 4 per set: 10/2 = 5 is too many, 10/4 = 2.5 is not, hence 4 shards.
    expect(new Set(batches.map((b) => b.shard!.split('/')[1]))).toEqual(new Set(['4']));
    expect(batches.every((b) => b.name === `pi4/kiosk.json#${b.shard}`)).toBe(true);
    expect(batches.flatMap((b) => b.devices.map((d) => d.id)).sort()).toEqual(ids(10));
  });

  it('keeps each device in its shard as devices join, and on doubling moves it only to its new sibling', () => {
    const shardOf = (batches: ReturnType<typeof configurationBatches>) => new Map(batches.flatMap((b) => b.devices.map((d) => [d.id, b.shard!] as const)));
    const before = shardOf(configurationBatches(plan(ids(40).map((id) => device(id, 'pi4', 'kiosk.json'))), 20)); // 2 shards
    expect(new Set(before.values())).toEqual(new Set(['1/2', '2/2']));
    const same = shardOf(configurationBatches(plan([...ids(40), 'x0001'].map((id) => device(id, 'pi4', 'kiosk.json'))), 21)); // a device joins: still 2 shards
    for (const [id, shard] of before) expect(same.get(id)).toBe(shard);
    const doubled = shardOf(configurationBatches(plan(ids(80).map((id) => device(id, 'pi4', 'kiosk.json'))), 20)); // 4 shards
    for (const [id, shard] of before) {
      const i = Number(shard.split('/')[0]);
      expect([`${i}/4`, `${i + 2}/4`]).toContain(doubled.get(id));
    }
  });
});
