// The promotion gate as a pure function: production's plan + canary's Mender deployments → violations.
import { checkPromotion, describeViolations, imagesToDeploy, parseOverrides, promotionSource, RingDeployment, ringVerdict } from '../../program/pipeline/gate';

const P1 = 'b8b311de-000e-4914-9a13-1d7e2e23bc5d';
const P2 = 'f4580afc-7195-4c8b-b35a-e0248e6bd894';
const device = (id: string, desiredImage: string, runningImage?: string) => ({ id, group: 'g', ring: 'production', ringSource: 'default' as const, deviceType: 't', desiredImage, runningImage });
const deployment = (name: string, status: string, statistics: Record<string, number>, created = '2026-11-20T10:00:00Z', id = name): RingDeployment => ({
  id,
  name,
  artifactName: name.split(':')[1],
  status,
  created,
  statistics,
});

describe('promotion gate', () => {
  it('promotes every ring from the one fleet:promoteFrom names, except that ring itself; no name is no gate', () => {
    // Pulumi.yaml names the source once for the repository: canary in the example, main in edi-cd.
    expect(promotionSource('production', 'canary')).toBe('canary');
    expect(promotionSource('canary', 'canary')).toBeUndefined();
    expect(promotionSource('production', 'main')).toBe('main');
    expect(promotionSource('main', ' main ')).toBeUndefined();
    expect(promotionSource('develop', '')).toBeUndefined();
    expect(promotionSource('production', undefined)).toBeUndefined();
  });

  it('judges any ring by its own deployment names', () => {
    expect(ringVerdict('main', 'img', [deployment('main:img:2:aa', 'finished', { success: 2 })])).toBeUndefined();
    expect(ringVerdict('main', 'img', [deployment('canary:img:2:aa', 'finished', { success: 2 })])).toBe('no main deployment of it');
  });

  it('gates only images the ring would deploy (devices not running them yet)', () => {
    const plan = { devices: [device(P1, 'img-new', 'img-old'), device(P2, 'img-done', 'img-done')] };
    expect([...imagesToDeploy(plan)]).toEqual([['img-new', [P1]]]);
  });

  const cases: { name: string; deployments: RingDeployment[]; verdict: string | undefined }[] = [
    { name: 'no canary deployment', deployments: [deployment('production:img:1:aa', 'finished', { success: 1 })], verdict: 'no canary deployment of it' },
    { name: 'finished without failures', deployments: [deployment('canary:img:4:aa', 'finished', { success: 3, 'already-installed': 1 })], verdict: undefined },
    { name: 'failures', deployments: [deployment('canary:img:4:aa', 'finished', { success: 2, failure: 2 }, undefined, 'd-42')], verdict: '2 of 4 devices failed on canary (deployment d-42)' },
    { name: 'aborted', deployments: [deployment('canary:img:2:aa', 'finished', { success: 1, aborted: 1 }, undefined, 'd-7')], verdict: '1 of 2 devices aborted on canary (deployment d-7)' },
    { name: 'still running', deployments: [deployment('canary:img:4:aa', 'inprogress', { success: 1, downloading: 3 })], verdict: 'still in progress on canary (1 of 4 devices done)' },
    {
      name: 'the newest finished deployment decides',
      deployments: [deployment('canary:img:4:aa', 'finished', { failure: 1, success: 3 }, '2026-11-20T10:00:00Z', 'old'), deployment('canary:img:1:bb', 'finished', { success: 1 }, '2026-11-21T10:00:00Z', 'new')],
      verdict: undefined,
    },
    { name: 'a deployment of another image with a similar prefix does not count', deployments: [deployment('canary:img-rc1:1:aa', 'finished', { success: 1 })], verdict: 'no canary deployment of it' },
  ];
  it.each(cases)('canary verdict: $name', ({ deployments, verdict }) => {
    expect(ringVerdict('canary', 'img', deployments)).toBe(verdict);
  });

  it('refuses what canary did not finish, and lets overridden images through with their reason', () => {
    const plan = { devices: [device(P1, 'pi4-new', 'pi4-old'), device(P2, 'pi3-new', 'pi3-old')] };
    const canary = [deployment('canary:pi4-new:1:aa', 'finished', { failure: 1 }, undefined, 'd1')];
    const refused = checkPromotion(plan, 'canary', canary);
    expect(refused.violations).toEqual([
      { image: 'pi3-new', devices: [P2], evidence: 'no canary deployment of it' },
      { image: 'pi4-new', devices: [P1], evidence: '1 of 1 devices failed on canary (deployment d1)' },
    ]);
    const { summary, details } = describeViolations('production', 'canary', refused.violations);
    expect(summary).toBe(
      'promotion gate of ring production: image pi3-new has not finished on canary (no canary deployment of it); image pi4-new has not finished on canary (1 of 1 devices failed on canary (deployment d1)); nothing was sent to Mender',
    );
    expect(details[0]).toBe(`image pi3-new has not finished on canary: no canary deployment of it; wanted by 1 device of production: ${P2}`);

    const overridden = checkPromotion(plan, 'canary', canary, [
      { image: 'pi3-new', reason: 'no canary pi3' },
      { image: 'pi4-new', reason: '  ' },
    ]);
    expect(overridden.violations.map((v) => v.image)).toEqual(['pi4-new']);
    expect(overridden.overridden).toEqual([{ image: 'pi3-new', reason: 'no canary pi3', evidence: 'no canary deployment of it' }]);
    expect(overridden.invalidOverrides).toEqual(['pi4-new']);
  });

  it('names a few of the blocked devices and counts the rest, however many there are', () => {
    const devices = Array.from({ length: 1632 }, (_, i) => `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`);
    const { details } = describeViolations('production', 'canary', [{ image: 'pi4-new', devices, evidence: 'no canary deployment of it' }]);
    expect(details[0]).toBe(
      `image pi4-new has not finished on canary: no canary deployment of it; wanted by 1632 devices of production: ${devices.slice(0, 5).join(', ')} and 1,627 more`,
    );
  });

  it('reads overrides from the configuration and rejects malformed ones', () => {
    expect(parseOverrides(undefined)).toEqual([]);
    expect(parseOverrides('[{"image":"x","reason":"why"}]')).toEqual([{ image: 'x', reason: 'why' }]);
    expect(parseOverrides([{ image: 'x' }])).toEqual([{ image: 'x', reason: '' }]);
    expect(() => parseOverrides({ image: 'x' })).toThrow('fleet:promotionOverride must be a list of {image, reason}');
    expect(() => parseOverrides(['x'])).toThrow('fleet:promotionOverride[0] must be {image: <artifact name>, reason: <why>}');
  });
});
