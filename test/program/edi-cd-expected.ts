// The configurations Ansible renders from the two edi-cd fleets of the test corpus
// (test/fixtures/edi-cd-talk, test/fixtures/edi-cd-current), worked out by hand from Ansible's
// rules, for the unit and the engine tests.
import * as path from 'node:path';
import { repoRoot } from '../helpers/pulumi';

export const TALK = path.join(repoRoot, 'test', 'fixtures', 'edi-cd-talk');
export const CURRENT = path.join(repoRoot, 'test', 'fixtures', 'edi-cd-current');
/** The tokens the fleets' host vars read with lookup('env', …) in the tests. */
export const RUNNER_TOKEN = 'ghp-runner-5b1e';
export const INFLUX_TOKEN = 'influx-9c2d';

const kiosk = (url: string) => ({ kiosk_url: url, playbook_url: 'https://github.com/example-org/kiosk-playbook', playbook_version: 'main', playbook_needs_reboot: 'false' });

/** What Ansible renders for the talk-era fleet, per ring: device → [image, configuration]. */
export const TALK_EXPECTED: Record<string, Record<string, [string, Record<string, string> | undefined]>> = {
  main: {
    '4d215467-e6e2-47c8-abc7-3e99469faa4d': ['2026-11-02-pi4-bullseye-arm64-gitops', kiosk('https://kiosk.example.org/lobby')],
    '77fbf145-4cb7-498d-a1d7-35a0089d5ede': ['2026-11-02-pi3-bullseye-arm64-gitops', kiosk('https://docs.example.org/hall')],
    'a937754e-d6ef-445c-bde4-22b13358b478': ['2026-11-02-pi2-bullseye-armhf', undefined],
  },
  production: {
    '93edb46f-7c44-45d5-a16b-a333d14c33a2': [
      '2026-11-02-pi4-bullseye-arm64-gitops',
      {
        playbook_url: 'https://github.com/example-org/actions-runner-playbook.git',
        playbook_version: 'main',
        github_account: 'example-org',
        github_repo: 'hil-tests',
        access_token: RUNNER_TOKEN,
        reinstall_runner: 'yes',
      },
    ],
    'bc195395-7da8-4d49-a0d2-57e3bbdd7252': ['2026-11-02-pi3-bullseye-arm64-gitops', kiosk('https://kiosk.example.org/shop')],
  },
};

const monitoring = { monitoring_enabled: 'true', monitoring_influxdb_server: 'influx.example.org', monitoring_influxdb_bucket: 'fleet-bucket', monitoring_influxdb_http_token: INFLUX_TOKEN, monitoring_influxdb_org: 'example-fleet' };
const runner = (labels: string) => ({ gharunner_enabled: 'true', gharunner_github_account: 'example-org', gharunner_github_repo: 'hil-tests', gharunner_access_token: RUNNER_TOKEN, gharunner_runner_labels: labels });

/** What Ansible renders from edge-configuration.json for the current-layout fleet, per ring. */
export const CURRENT_EXPECTED: Record<string, Record<string, [string, Record<string, string>]>> = {
  main: {
    'dcfc89b8-2a77-4f60-a708-1fe701e77823': [
      '2026-11-02-pi4-gitops-bookworm-arm64',
      { playbook_url: 'edge-playbook', playbook_version: '2.0.3', ...monitoring, ...runner('rpi4,ARM64'), expected_os_image: '2026-11-02-pi4-gitops-bookworm-arm64' },
    ],
    'e7580a18-c979-4e41-bedc-c06f1695954e': ['2026-11-02-pi2-gitops-bookworm-armhf', { playbook_url: 'edge-playbook', playbook_version: '2.1.0', expected_os_image: '2026-11-02-pi2-gitops-bookworm-armhf' }],
    'f3c89826-a324-4edd-9408-b13292a0073a': [
      '2026-11-02-pi4-gitops-bookworm-arm64',
      { playbook_url: 'edge-playbook', playbook_version: '2.0.3', ...monitoring, kiosk_enabled: 'true', kiosk_kiosk_url: 'https://kiosk.example.org/lobby', expected_os_image: '2026-11-02-pi4-gitops-bookworm-arm64' },
    ],
  },
  develop: {
    '2b76c873-153d-4e0c-b95c-1f1f2d882ec1': ['2026-11-02-pi3-gitops-trixie-arm64', { playbook_url: 'edge-playbook', playbook_version: '2.1.0', expected_os_image: '2026-11-02-pi3-gitops-trixie-arm64' }],
    '598b2b43-2f8e-4bac-8cd7-b6902b783623': [
      '2026-11-20-pi5-gitops-trixie-arm64',
      { playbook_url: 'edge-playbook', playbook_version: '2.2.0-rc1', ...runner('rpi5'), expected_os_image: '2026-11-20-pi5-gitops-trixie-arm64' },
    ],
  },
  production: {
    'dd24fda7-7ad3-4fc9-b148-0d05c018becb': ['2026-11-02-pi3-gitops-trixie-arm64', { playbook_url: 'edge-playbook', playbook_version: '2.1.0', expected_os_image: '2026-11-02-pi3-gitops-trixie-arm64' }],
  },
};
