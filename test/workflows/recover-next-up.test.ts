// `fleet recover`'s summary of what the next up does about each operation a dead update left
// pending, for every resource type the program declares.
import { nextUp } from '../../cli/recover';

const urn = (type: string, name: string) => `urn:pulumi:canary::mender-fleet::pulumi-nodejs:dynamic:Resource$${type}::${name}`;
const pending = (type: string, name: string, inputs: Record<string, unknown>) => ({ type: 'creating', resource: { urn: urn(type, name), type: `pulumi-nodejs:dynamic/${type}`, inputs } });

describe('fleet recover: the next up', () => {
  it('knows the DeviceConfigurationSet the program declares', () => {
    const devices = { 'a1a1a1a1-0000-4000-8000-0000000000a1': { values: {} }, 'b2b2b2b2-0000-4000-8000-0000000000b2': { values: {} } };
    expect(nextUp(pending('mender:DeviceConfigurationSet', 'pi4/kiosk.json', { group: 'pi4', template: 'kiosk.json', devices }))).toBe(
      'DeviceConfigurationSet pi4/kiosk.json sets and deploys the configuration of its 2 devices again (a device already reporting its configuration gets nothing)',
    );
  });

  it('keeps what it said of the other types', () => {
    expect(nextUp(pending('mender:ImageRelease', 'os-2', { artifactName: 'os-2' }))).toBe('ImageRelease os-2 adopts the artifact already uploaded to Mender');
    expect(nextUp(pending('mender:DeviceConfiguration', 'kiosk', {}))).toBe('DeviceConfiguration kiosk sets and deploys the same configuration again (a device already reporting it gets nothing)');
  });
});
