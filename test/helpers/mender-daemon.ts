// Real `mender` client daemons (Debian's mender-client 3.4, installed by scripts/mender-tools)
// as devices of an emulator. Each daemon has its own --config and --data in a temporary
// directory; what the client reads only from fixed paths is written there for the test and put
// back afterwards (see installClientFiles):
// - /usr/share/mender/identity/mender-device-identity: one script for every daemon, printing the
//   MAC in the daemon's environment (MENDER_FLEET_DEVICE_MAC);
// - /usr/share/mender/inventory/mender-inventory-fleet-test: an inventory attribute from the
//   environment (MENDER_FLEET_INVENTORY), so a test sees script attributes reach the server;
// - /etc/mender/artifact_info: the artifact name a daemon reports until it installs one (the
//   client reads it from there only: `ArtifactInfoFile` is not configurable in 3.4).
// - /usr/share/mender/modules/v3/mender-configure: the test's own stand-in for the
//   mender-configure add-on's module (not packaged in Debian): it writes the configuration a
//   configuration deployment carries to $MENDER_FLEET_WORK_DIR/device-config.json;
// - /usr/share/mender/modules/v3/fleet-test-reboot: a module that asks for a reboot
//   (NeedsArtifactReboot: Yes) and, as its ArtifactReboot, only notes it in
//   $MENDER_FLEET_WORK_DIR/rebooted (the machine is not rebooted);
// - /usr/share/mender/modules/v3/fleet-test-slow: a module whose install lasts until the test
//   opens a gate (see SLOW_INSTALL_GATE) and which can roll back, each step noted in
//   $MENDER_FLEET_WORK_DIR/slow.log.
// - /usr/share/mender/modules/v3/fleet-test-image: the engine scenario's stand-in for an OS
//   image (see IMAGE_MODULE_TYPE);
// - /usr/share/mender/inventory/mender-inventory-fleet-configure: the test's stand-in for the
//   mender-configure add-on's inventory script, which reports the applied configuration to
//   deviceconfig (see CONFIGURE_REPORT_SCRIPT).
// The client ignores ModulesPath in mender.conf (3.4 loads it as /usr/share/mender/modules/v3),
// so the tests' module goes there, next to the ones Debian ships (single-file, script).
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const MENDER_BIN = process.env.MENDER_CLIENT_BIN ?? 'mender';
export const INITIAL_ARTIFACT = 'fleet-base-1.0';

const IDENTITY_SCRIPT = '/usr/share/mender/identity/mender-device-identity';
const INVENTORY_SCRIPT = '/usr/share/mender/inventory/mender-inventory-fleet-test';
const ARTIFACT_INFO = '/etc/mender/artifact_info';
const CONFIGURE_MODULE = '/usr/share/mender/modules/v3/mender-configure';
export const REBOOT_MODULE_TYPE = 'fleet-test-reboot';
const REBOOT_MODULE = `/usr/share/mender/modules/v3/${REBOOT_MODULE_TYPE}`;
export const SLOW_MODULE_TYPE = 'fleet-test-slow';
const SLOW_MODULE = `/usr/share/mender/modules/v3/${SLOW_MODULE_TYPE}`;
/**
 * The gate the slow module's ArtifactInstall waits for (MenderDaemon.openGate): the install
 * lasts until the test has done what it must do while the device installs.
 */
export const SLOW_INSTALL_GATE = 'slow-install';
/**
 * How long a module waits for a gate at most. A gate the test never opens (a test that broke
 * before it) makes the module give up, note it in its log and fail, so the test fails instead of
 * hanging; the test's own waits are shorter.
 */
export const GATE_WAIT_SECONDS = 300;
/**
 * A module standing for an OS image: ArtifactInstall copies the payload file `image.txt` to
 * $MENDER_FLEET_WORK_DIR/image.txt (keeping the one before for ArtifactRollback, which it
 * supports), each state noted in $MENDER_FLEET_WORK_DIR/image.log. Its meta-data (ImageMetaData)
 * makes it fail on some devices or hold their download until the test opens a gate, so one
 * artifact behaves differently on the devices of one deployment, as a bad image does on real
 * hardware.
 */
export const IMAGE_MODULE_TYPE = 'fleet-test-image';
const IMAGE_MODULE = `/usr/share/mender/modules/v3/${IMAGE_MODULE_TYPE}`;
/**
 * The fleet-test-image module's meta-data: device MACs separated by spaces, gates by name
 * (MenderDaemon.openGate; mender-artifact's meta-data is JSON).
 */
export type ImageMetaData = {
  /** ArtifactInstall fails (exit 5) on these devices: at once, or once fail_gate is open. */
  fail_on?: string;
  fail_gate?: string;
  /** The Download state on these devices notes `Download stalled` and waits for download_gate before the client reads the payload. */
  slow_download_on?: string;
  download_gate?: string;
};
/**
 * The modules' wait for a gate: the file gates/<name> in $MENDER_FLEET_WORK_DIR, which the test
 * writes (MenderDaemon.openGate), looked for every 0.1 s for at most GATE_WAIT_SECONDS; giving up
 * is noted in the log file $2 and on stderr (the deployment log), and fails the module.
 */
const GATE_FUNCTION =
  'gate() {\n' +
  `  n=${GATE_WAIT_SECONDS * 10}\n` +
  '  while [ ! -e "$MENDER_FLEET_WORK_DIR/gates/$1" ]; do\n' +
  `    if [ "$n" -le 0 ]; then echo "gate $1 not opened within ${GATE_WAIT_SECONDS} s" | tee -a "$2" >&2; return 1; fi\n` +
  '    n=$((n - 1)); sleep 0.1\n' +
  '  done\n' +
  '}\n';
/**
 * The mender-configure add-on (not packaged in Debian) reports the configuration it applied with
 * its inventory script, through PUT /api/devices/v1/deviceconfig/configuration with the token it
 * asks the daemon for over D-Bus. The daemons here run without D-Bus, so the stand-in gets its
 * own token: an auth request signed with the daemon's key (as client/api/auth.go signs it), which
 * deviceauth answers for the daemon's accepted auth set. It prints no attribute, and reports only
 * when device-config.json changed since its last report.
 */
const CONFIGURE_REPORT_SCRIPT = '/usr/share/mender/inventory/mender-inventory-fleet-configure';
/** Programs the test's stand-in scripts run. */
const SCRIPT_TOOLS = ['jq', 'openssl', 'curl'];

/** What a fixed path held before the test wrote it (undefined: nothing). */
type Saved = { file: string; content?: Buffer; mode?: number };

/** Why the daemon cannot run here, as a sentence for the test's failure; undefined if it can. */
export function clientUnavailable(): string | undefined {
  try {
    execFileSync(MENDER_BIN, ['--version'], { stdio: 'ignore' });
  } catch {
    return `the mender client (${MENDER_BIN}) is not installed: run scripts/mender-tools as root, or 'sudo apt-get install mender-client'`;
  }
  for (const tool of SCRIPT_TOOLS) {
    try {
      // `command -v`: openssl has no --version.
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' });
    } catch {
      return `the test's stand-in update module and inventory script run ${SCRIPT_TOOLS.join(', ')}; ${tool} is missing: 'sudo apt-get install ${SCRIPT_TOOLS.join(' ')}'`;
    }
  }
  if (process.getuid?.() !== 0) {
    return 'the mender client reads its identity script and artifact_info only from /usr/share/mender and /etc/mender: the test must run as root to write them';
  }
  return undefined;
}

/**
 * One test run at a time owns the fixed paths (other worktrees' runs share this machine): an
 * exclusive lock file holding the owner's pid, taken over when that process is gone.
 */
const LOCK = path.join(os.tmpdir(), 'mender-fleet-client-files.lock');

function isAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function lockClientFiles(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(LOCK, String(process.pid), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number(fs.readFileSync(LOCK, 'utf8').trim() || '0');
    if (!isAlive(owner)) {
      fs.rmSync(LOCK, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`the mender client's fixed paths are in use by process ${owner} (${LOCK}); waited ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * How long a run waits for another that has the fixed paths: jest runs two test files at once,
 * and the real-device engine scenario (test/engine/real-devices.test.ts) holds them for its whole
 * run, a few minutes. A hook that calls installClientFiles needs a timeout above this.
 */
export const CLIENT_FILES_WAIT_MS = 900_000;

/**
 * Writes the client's fixed-path files (waiting for another run that has them) and returns a
 * function that puts back what was there (or removes them).
 */
export async function installClientFiles(waitMs = CLIENT_FILES_WAIT_MS): Promise<() => void> {
  await lockClientFiles(waitMs);
  const saved: Saved[] = [];
  const restore = (): void => {
    for (const s of saved.reverse()) {
      if (s.content === undefined) fs.rmSync(s.file, { force: true });
      else {
        fs.writeFileSync(s.file, s.content);
        if (s.mode !== undefined) fs.chmodSync(s.file, s.mode);
      }
    }
    fs.rmSync(LOCK, { force: true });
  };
  const write = (file: string, content: string, mode: number): void => {
    const before: Saved = { file };
    if (fs.existsSync(file)) {
      before.content = fs.readFileSync(file);
      before.mode = fs.statSync(file).mode & 0o7777;
    }
    saved.push(before);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content, { mode });
    fs.chmodSync(file, mode);
  };
  try {
    write(
      IDENTITY_SCRIPT,
      '#!/bin/sh\n# Written by mender-fleet\'s tests (test/helpers/mender-daemon.ts), removed after them.\n' +
        'echo "mac=${MENDER_FLEET_DEVICE_MAC:?MENDER_FLEET_DEVICE_MAC is not set}"\n',
      0o755,
    );
    write(
      INVENTORY_SCRIPT,
      '#!/bin/sh\n# Written by mender-fleet\'s tests (test/helpers/mender-daemon.ts), removed after them.\n' +
        'if [ -n "$MENDER_FLEET_INVENTORY" ]; then echo "fleet_test=$MENDER_FLEET_INVENTORY"; fi\n',
      0o755,
    );
    write(ARTIFACT_INFO, `artifact_name=${INITIAL_ARTIFACT}\n`, 0o644);
    // Update module protocol v3: the state is $1, the file tree $2, whose header/meta-data is the
    // artifact's meta-data (the configuration).
    write(
      CONFIGURE_MODULE,
      '#!/bin/sh\n# Written by mender-fleet\'s tests (test/helpers/mender-daemon.ts), removed after them.\nset -e\n' +
        'case "$1" in\n' +
        '  NeedsArtifactReboot) echo No ;;\n' +
        '  SupportsRollback) echo No ;;\n' +
        '  ArtifactInstall)\n' +
        '    : "${MENDER_FLEET_WORK_DIR:?MENDER_FLEET_WORK_DIR is not set}"\n' +
        '    mkdir -p "$MENDER_FLEET_WORK_DIR"\n' +
        '    cp "$2/header/meta-data" "$MENDER_FLEET_WORK_DIR/device-config.json" ;;\n' +
        'esac\n',
      0o755,
    );
    write(
      REBOOT_MODULE,
      '#!/bin/sh\n# Written by mender-fleet\'s tests (test/helpers/mender-daemon.ts), removed after them.\nset -e\n' +
        'case "$1" in\n' +
        '  NeedsArtifactReboot) echo Yes ;;\n' +
        '  SupportsRollback) echo No ;;\n' +
        '  ArtifactReboot)\n' +
        '    mkdir -p "$MENDER_FLEET_WORK_DIR"\n' +
        '    echo "$(date -u +%FT%TZ) ArtifactReboot" >> "$MENDER_FLEET_WORK_DIR/rebooted" ;;\n' +
        'esac\n',
      0o755,
    );
    write(
      SLOW_MODULE,
      '#!/bin/sh\n# Written by mender-fleet\'s tests (test/helpers/mender-daemon.ts), removed after them.\nset -e\n' +
        'mkdir -p "$MENDER_FLEET_WORK_DIR"\n' +
        GATE_FUNCTION +
        'case "$1" in\n' +
        '  NeedsArtifactReboot) echo No ;;\n' +
        '  SupportsRollback) echo Yes ;;\n' +
        `  ArtifactInstall) echo ArtifactInstall >> "$MENDER_FLEET_WORK_DIR/slow.log"; gate ${SLOW_INSTALL_GATE} "$MENDER_FLEET_WORK_DIR/slow.log" ;;\n` +
        '  ArtifactRollback|ArtifactCommit|ArtifactFailure) echo "$1" >> "$MENDER_FLEET_WORK_DIR/slow.log" ;;\n' +
        'esac\n',
      0o755,
    );
    write(
      IMAGE_MODULE,
      '#!/bin/sh\n# Written by mender-fleet\'s tests (test/helpers/mender-daemon.ts), removed after them.\nset -e\n' +
        ': "${MENDER_FLEET_WORK_DIR:?MENDER_FLEET_WORK_DIR is not set}"\n' +
        'mkdir -p "$MENDER_FLEET_WORK_DIR"\n' +
        'cd "$MENDER_FLEET_WORK_DIR"\n' +
        'note() { echo "$*" >> image.log; }\n' +
        'meta() { jq -r --arg k "$1" \'.[$k] // ""\' "$2/header/meta-data" 2>/dev/null || true; }\n' +
        GATE_FUNCTION +
        // The gate named by meta-data key $1, if it names one.
        'hold() { g=$(meta "$1" "$2"); if [ -n "$g" ]; then gate "$g" image.log; fi; }\n' +
        'here() { case " $1 " in *" $MENDER_FLEET_DEVICE_MAC "*) return 0 ;; esac; return 1; }\n' +
        'case "$1" in\n' +
        '  NeedsArtifactReboot) echo No ;;\n' +
        '  SupportsRollback) echo Yes ;;\n' +
        // Not reading stream-next leaves the download to the client, after the wait.
        '  Download)\n' +
        '    if here "$(meta slow_download_on "$2")"; then note "Download stalled"; hold download_gate "$2"; fi\n' +
        '    note Download ;;\n' +
        '  ArtifactInstall)\n' +
        '    if [ -f image.txt ]; then cp image.txt image.previous; else rm -f image.previous; fi\n' +
        '    if here "$(meta fail_on "$2")"; then\n' +
        '      hold fail_gate "$2"; note "ArtifactInstall failed"\n' +
        '      echo "fleet-test-image: this image fails on $MENDER_FLEET_DEVICE_MAC on purpose" >&2; exit 5\n' +
        '    fi\n' +
        '    cp "$2/files/image.txt" image.txt; note ArtifactInstall ;;\n' +
        '  ArtifactRollback) if [ -f image.previous ]; then mv image.previous image.txt; fi; note ArtifactRollback ;;\n' +
        '  ArtifactCommit|ArtifactFailure) note "$1" ;;\n' +
        'esac\n',
      0o755,
    );
    write(
      CONFIGURE_REPORT_SCRIPT,
      '#!/bin/sh\n# Written by mender-fleet\'s tests (test/helpers/mender-daemon.ts), removed after them.\nset -e\n' +
        // stdout is the inventory: nothing of this script goes there.
        'exec >&2\n' +
        'config="${MENDER_FLEET_WORK_DIR:?}/device-config.json"\n' +
        '[ -f "$config" ] || exit 0\n' +
        'cmp -s "$config" "$MENDER_FLEET_WORK_DIR/device-config.reported" && exit 0\n' +
        'key="${MENDER_FLEET_DATA_DIR:?}/mender-agent.pem"\n' +
        't=$(mktemp -d); trap \'rm -rf "$t"\' EXIT\n' +
        'openssl pkey -in "$key" -pubout -out "$t/pub.pem"\n' +
        'jq -cjn --arg mac "${MENDER_FLEET_DEVICE_MAC:?}" --rawfile pk "$t/pub.pem" \'{id_data: ({mac: $mac} | tojson), pubkey: $pk, tenant_token: ""}\' > "$t/body"\n' +
        'sig=$(openssl dgst -sha256 -sign "$key" "$t/body" | base64 -w0)\n' +
        'url="${MENDER_FLEET_SERVER_URL:?}"\n' +
        'token=$(curl -sSf -X POST -H "Content-Type: application/json" -H "X-MEN-Signature: $sig" --data-binary @"$t/body" "$url/api/devices/v1/authentication/auth_requests")\n' +
        'curl -sSf -X PUT -H "Authorization: Bearer $token" -H "Content-Type: application/json" --data-binary @"$config" "$url/api/devices/v1/deviceconfig/configuration"\n' +
        'cp "$config" "$MENDER_FLEET_WORK_DIR/device-config.reported"\n',
      0o755,
    );
  } catch (err) {
    restore();
    throw err;
  }
  return restore;
}

export interface DaemonOptions {
  serverUrl: string;
  mac: string;
  deviceType: string;
  /** The value of the inventory script's `fleet_test` attribute. */
  inventory?: string;
  /** A private key to start with (PEM), so the test knows the public key in advance. */
  privateKeyPem?: string;
  pollSeconds?: number;
}

export interface MenderDaemon {
  readonly dir: string;
  /** Where the test's modules write (device-config.json, rebooted). */
  readonly workDir: string;
  /** Lets a module waiting for the gate `name` go on (gates/<name> in workDir; see GATE_WAIT_SECONDS). */
  openGate(name: string): void;
  readonly pid: number;
  log(): string;
  /** `mender show-provides` on this daemon's data: what the client holds as installed. */
  showProvides(): Record<string, string>;
  stop(): Promise<void>;
}

/** A 2048-bit RSA key in the PKCS#1 PEM the client keeps as mender-agent.pem, and its public key. */
export function daemonKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: String(privateKey.export({ type: 'pkcs1', format: 'pem' })),
    publicPem: String(publicKey.export({ type: 'spki', format: 'pem' })),
  };
}

export function startDaemon(opts: DaemonOptions): MenderDaemon {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mender-daemon-'));
  const data = path.join(dir, 'data');
  fs.mkdirSync(data);
  const poll = opts.pollSeconds ?? 1;
  const config = {
    ServerURL: opts.serverUrl,
    UpdatePollIntervalSeconds: poll,
    InventoryPollIntervalSeconds: poll,
    RetryPollIntervalSeconds: poll,
    DeviceTypeFile: path.join(data, 'device_type'),
    // The daemon's D-Bus API is of no use here, and there is no system bus.
    DBus: { Enabled: false },
  };
  fs.writeFileSync(path.join(dir, 'mender.conf'), JSON.stringify(config, null, 2));
  fs.writeFileSync(path.join(data, 'device_type'), `device_type=${opts.deviceType}\n`);
  if (opts.privateKeyPem) fs.writeFileSync(path.join(data, 'mender-agent.pem'), opts.privateKeyPem, { mode: 0o600 });
  const workDir = path.join(dir, 'work');
  const logFile = path.join(dir, 'daemon.log');
  const out = fs.openSync(logFile, 'a');
  const child: ChildProcess = spawn(MENDER_BIN, ['--config', path.join(dir, 'mender.conf'), '--data', data, '--no-syslog', '--log-level', 'info', 'daemon'], {
    env: {
      ...process.env,
      MENDER_FLEET_DEVICE_MAC: opts.mac,
      MENDER_FLEET_INVENTORY: opts.inventory ?? '',
      MENDER_FLEET_WORK_DIR: workDir,
      // For the stand-in of mender-configure's inventory script (CONFIGURE_REPORT_SCRIPT).
      MENDER_FLEET_DATA_DIR: data,
      MENDER_FLEET_SERVER_URL: opts.serverUrl,
    },
    stdio: ['ignore', out, out],
    // Its own process group, so stop() also ends the update modules it runs.
    detached: true,
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${MENDER_BIN}`);
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    dir,
    workDir,
    openGate: (name) => {
      fs.mkdirSync(path.join(workDir, 'gates'), { recursive: true });
      fs.writeFileSync(path.join(workDir, 'gates', name), '');
    },
    pid,
    log: () => fs.readFileSync(logFile, 'utf8'),
    showProvides: () => {
      const text = execFileSync(MENDER_BIN, ['--config', path.join(dir, 'mender.conf'), '--data', data, '--no-syslog', 'show-provides'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      return Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    },
    async stop() {
      const signal = (sig: NodeJS.Signals): void => {
        try {
          process.kill(-pid, sig);
        } catch {
          // the group is gone
        }
      };
      if (child.exitCode !== null || child.signalCode !== null) return;
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
