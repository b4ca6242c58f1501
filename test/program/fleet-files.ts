import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A small valid fleet as a file map; tests break one thing at a time. */
export const baseFleet: Record<string, string> = {
  'inventory.yml': [
    'all:',
    '  children:',
    '    pi4:',
    '      hosts:',
    '        3fb4632b-96b9-475d-ac89-02255bd15b6f:',
    '        b8b311de-000e-4914-9a13-1d7e2e23bc5d:',
    '    pi3:',
    '      hosts:',
    '        50a28c2e-3ee8-4559-a5b9-3ce47c881c5d:',
    '',
  ].join('\n'),
  'group_vars/all.yml': [
    'subscribed_branch: production',
    'os_image:',
    '  - device_type: pi4-v3-arm64',
    '    image_name: pi4-2026.11',
    '  - device_type: pi3-arm64',
    '    image_name: pi3-2026.11',
    'kiosk_url: https://example.org',
    '',
  ].join('\n'),
  'host_vars/3fb4632b-96b9-475d-ac89-02255bd15b6f.yml': [
    'subscribed_branch: canary',
    'configuration:',
    '  template: kiosk.json',
    '  parameters:',
    '    kiosk_url: https://example.org/canary',
    '',
  ].join('\n'),
  'templates/kiosk.json': ['{', '  "kiosk_url": "{{ kiosk_url | mandatory }}",', '  "image": "{{ desired_os_image }}"', '}', ''].join('\n'),
};

export function writeFleet(files: Record<string, string | null>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-desc-'));
  for (const [name, text] of Object.entries(files)) {
    if (text === null) continue;
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}
