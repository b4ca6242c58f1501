// cli/stack-state.ts: the Stack's outputs read from an exported checkpoint are what `pulumi stack
// output --json --show-secrets` prints: secrets (whole outputs, or inside one) in clear.
import { specialSecretSig, specialSigKey } from '@pulumi/pulumi/runtime/rpc';
import { inClear, stackOutputs } from '../../cli/stack-state';

const secret = (value: unknown, form: 'plaintext' | 'ciphertext' = 'plaintext') => ({ [specialSigKey]: specialSecretSig, [form]: form === 'plaintext' ? JSON.stringify(value) : 'v1:abc' });

describe('the outputs of a checkpoint', () => {
  it('are the Stack resource\'s, with every secret in clear, and none before the first update', () => {
    const devices = { 'dev-1': { ring: 'canary', desiredImage: 'pi4-2026.11' } };
    const checkpoint = {
      resources: [
        { urn: 'urn:pulumi:canary::fleet::pulumi:providers:pulumi-nodejs::default', type: 'pulumi:providers:pulumi-nodejs', outputs: { version: '3' } },
        { urn: 'urn:pulumi:canary::fleet::pulumi:pulumi:Stack::fleet-canary', type: 'pulumi:pulumi:Stack', outputs: { devices: secret(devices), images: ['pi4-2026.11'], nested: { token: secret('s3cr3t'), list: [secret(1), 2] } } },
      ],
    };
    expect(stackOutputs(checkpoint)).toEqual({ devices, images: ['pi4-2026.11'], nested: { token: 's3cr3t', list: [1, 2] } });
    expect(stackOutputs({ resources: [] })).toEqual({});
  });

  it('leave a secret the export did not decrypt undefined, never its ciphertext', () => {
    expect(inClear({ a: secret('x', 'ciphertext'), b: 'plain' })).toEqual({ a: undefined, b: 'plain' });
    // A secret whose value holds another secret (as Pulumi nests them) is opened all the way.
    expect(inClear(secret({ inner: secret('deep') }))).toEqual({ inner: 'deep' });
  });
});
