// The fleet plan as people read it: plain text for a terminal or a job log (everything listed),
// and Markdown for a pull request comment, which GitHub cuts at 65,536 characters. The Markdown
// keeps its summary and tables and collapses per-device lists in <details>; when they would not
// fit in the limit, each list keeps what its share allows and counts the rest.
import { nameAFew } from '../shared/name-a-few';
import { ConfigurationPlan, ChangeReport, GateVerdict, MoveReason, RingMove } from './change-report';

/** Below GitHub's 65,536-character comment limit, with room for the workflow's own lines. */
export const MARKDOWN_LIMIT = 60_000;
/** Images with their own breakdown and device list; more would crowd out everything else. */
const DETAILED_IMAGES = 20;

const n = (count: number) => count.toLocaleString('en');
const devices = (count: number) => `${n(count)} device${count === 1 ? '' : 's'}`;
/** "1 device joins", "2 devices join" */
const devicesDo = (count: number, verb: string) => `${devices(count)} ${verb}${count === 1 ? 's' : ''}`;
const code = (text: string) => `\`${text.replace(/`/g, "'")}\``;
/** Code inside HTML (a <summary>), where Markdown's backticks are not read. */
const htmlCode = (text: string) => `<code>${text.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</code>`;
/** Text that goes into a table cell or a list item. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/\n/g, ' ');

function reasonText(reason: MoveReason, ring: string | undefined): string {
  switch (reason) {
    case 'device':
      return `the device reports subscribed_branch ${ring}`;
    case 'git':
      return `Git sets subscribed_branch ${ring}`;
    case 'default':
      return `Git sets no subscribed_branch: the default ring ${ring}`;
    case 'removed-from-git':
      return 'no longer listed in Git';
    case 'unknown-to-mender':
      return 'unknown to Mender';
    case 'not-planned':
      return 'cannot be planned (see the errors)';
  }
}

function keysText(c: ConfigurationPlan): string {
  const secret = new Set(c.secret);
  const keys = (list: string[]) => list.map((k) => (secret.has(k) ? `${k} (secret)` : k)).join(', ');
  const parts: string[] = [];
  if (c.added.length > 0) parts.push(`${c.created ? 'set' : 'added'} ${keys(c.added)}`);
  if (c.changed.length > 0) parts.push(`changed ${keys(c.changed)}`);
  if (c.removed.length > 0) parts.push(`removed ${keys(c.removed)}`);
  return parts.join('; ');
}

/** Counts of moves by reason and ring, largest first. */
function movesByReason(moves: RingMove[]): { why: string; devices: number }[] {
  const counts = new Map<string, number>();
  for (const m of moves) {
    const why = reasonText(m.reason, m.ring);
    counts.set(why, (counts.get(why) ?? 0) + 1);
  }
  return [...counts].map(([why, count]) => ({ why, devices: count })).sort((a, b) => b.devices - a.devices || a.why.localeCompare(b.why));
}

/** Per configuration key: on how many devices it is added, changed or removed. */
function keyCounts(configurations: ConfigurationPlan[]): { key: string; secret: boolean; added: number; changed: number; removed: number }[] {
  const keys = new Map<string, { key: string; secret: boolean; added: number; changed: number; removed: number }>();
  const entry = (key: string) => {
    if (!keys.has(key)) keys.set(key, { key, secret: false, added: 0, changed: 0, removed: 0 });
    return keys.get(key)!;
  };
  for (const c of configurations) {
    for (const k of c.added) entry(k).added++;
    for (const k of c.changed) entry(k).changed++;
    for (const k of c.removed) entry(k).removed++;
    for (const k of c.secret) entry(k).secret = true;
  }
  return [...keys.values()].sort((a, b) => a.key.localeCompare(b.key));
}

function gateSummary(gate: GateVerdict): string {
  switch (gate.kind) {
    case 'none':
      return 'none: this ring promotes from no other';
    case 'not-checked':
      return 'not checked: the fleet cannot be planned';
    case 'checked': {
      if (gate.refused.length > 0) return `refuses ${gate.refused.length} image${gate.refused.length === 1 ? '' : 's'} that did not finish on ${gate.sourceRing}`;
      const images = (count: number) => `${count} image${count === 1 ? '' : 's'}`;
      const through = [
        ...(gate.passed.length > 0 ? [`${images(gate.passed.length)} finished on ${gate.sourceRing}`] : []),
        ...(gate.overridden.length > 0 ? [`${images(gate.overridden.length)} let through by an override`] : []),
      ];
      return `passes: ${through.length === 0 ? `no image to promote from ${gate.sourceRing}` : through.join(', ')}`;
    }
  }
}

function gateLines(gate: GateVerdict): string[] {
  if (gate.kind !== 'checked') return [];
  return [
    ...gate.refused.map((r) => `refused: ${r.image} (wanted by ${devices(r.devices)}): ${r.evidence}`),
    ...gate.overridden.map((o) => `overridden: ${o.image}, although ${o.evidence}; reason: ${o.reason}`),
    ...gate.passed.map((p) => `finished on ${gate.sourceRing}: ${p.image} (wanted by ${devices(p.devices)})`),
    ...gate.invalidOverrides.map((image) => `ignored: the override of ${image} has no reason`),
  ];
}

function summaryLines(plan: ChangeReport): string[] {
  const getting = plan.images.reduce((sum, i) => sum + i.devices.length, 0);
  const changedImages = plan.images.filter((i) => i.devices.length > 0).length;
  const refreshOnly = plan.images.filter((i) => i.onlyWithRefresh.length > 0);
  const refreshDevices = refreshOnly.reduce((sum, i) => sum + i.onlyWithRefresh.length, 0);
  const lines = [
    `images: ${getting === 0 ? 'no device gets a new image' : `${devicesDo(getting, 'get')} a new image (${changedImages} of ${plan.images.length} image${plan.images.length === 1 ? '' : 's'})`}; ${devices(plan.deviceCount)} in the ring`,
    // What Mender says now against what the stack recorded at its last refresh: a plain up acts
    // on the latter only.
    ...(refreshDevices > 0
      ? [`only with up --refresh: ${refreshDevices === getting ? (refreshDevices === 1 ? 'it' : 'all of them') : `${n(refreshDevices)} of them`} (${nameAFew(refreshOnly.map((i) => i.image))}): they run another image than the stack recorded at its last refresh, and a plain up leaves them`]
      : []),
    plan.firstApply
      ? `ring: first apply of the stack, ${devicesDo(plan.joining.length, 'join')}`
      : `ring: ${devicesDo(plan.joining.length, 'join')}, ${devicesDo(plan.leaving.length, 'leave')}`,
    `configuration: ${plan.configurations.length === 0 ? 'no change' : `changes on ${devices(plan.configurations.length)}`}${plan.unmanaged.length > 0 ? `; ${devices(plan.unmanaged.length)} no longer managed` : ''}`,
  ];
  if (plan.unknownToMender.length > 0) lines.push(`unknown to Mender: ${devices(plan.unknownToMender.length)} listed in Git`);
  lines.push(`promotion gate: ${gateSummary(plan.gate)}`);
  return lines;
}

// ------------------------------------------------------------------ text

/** The whole plan as plain text, every device listed: for a terminal or a job log. */
export function planText(plan: ChangeReport): string {
  const out: string[] = [`Fleet plan of ring ${plan.ring} (stack ${plan.stack})`];
  for (const stop of plan.stops) out.push(`STOP: ${stop}`);
  out.push(...summaryLines(plan).map((l) => `  ${l}`));
  const section = (title: string, lines: string[], always = false) => {
    if (always || lines.length > 0) out.push('', title, ...lines.map((l) => `  ${l}`));
  };
  section('Errors', plan.errors);
  section('Warnings', plan.warnings);
  for (const rollout of plan.rollouts) section(rollout.lines[0], rollout.lines.slice(1));
  for (const image of plan.images) {
    const from = image.from.map((f) => `${f.image ?? '(unknown)'}: ${n(f.devices)}`).join(', ');
    section(`Image ${image.image}: ${devicesDo(image.devices.length, 'get')} it, ${n(image.alreadyRunning)} already ${image.alreadyRunning === 1 ? 'runs' : 'run'} it`, [
      ...(from ? [`from ${from}`] : []),
      ...(image.onlyWithRefresh.length > 0 ? [`only with up --refresh: ${image.onlyWithRefresh.length === image.devices.length ? 'all of them' : n(image.onlyWithRefresh.length)}`] : []),
      ...image.byTypeAndGroup.map((b) => `${b.deviceType} in ${b.group}: ${n(b.devices)}`),
      ...image.devices,
    ], true);
  }
  section(`Joining the ring ${plan.ring}`, plan.joining.map((m) => `${m.device}: ${reasonText(m.reason, m.ring)}`));
  section(`Leaving the ring ${plan.ring}`, plan.leaving.map((m) => `${m.device}: ${reasonText(m.reason, m.ring)}`));
  section('Configuration (keys only; values are not shown)', plan.configurations.map((c) => `${c.device}: ${keysText(c)}`));
  section('Configuration no longer managed (Mender keeps it)', plan.unmanaged);
  section('Listed in Git, unknown to Mender', plan.unknownToMender);
  section('Promotion gate', gateLines(plan.gate));
  return `${out.join('\n')}\n`;
}

// ------------------------------------------------------------------ markdown

/**
 * A list whose lines may be cut: the head, as many lines as fit, a line counting the rest, and
 * the tail; or, when not even one line fits, `compact` alone.
 */
interface ListPart {
  head: string;
  lines: string[];
  more: (rest: number) => string;
  tail: string;
  compact: string;
  /** Tables and summaries (1) are given room before per-device lists (2). */
  priority: 1 | 2;
}
type Part = string | ListPart;

function listCost(part: ListPart, kept: number): number {
  if (kept === 0) return part.compact.length;
  let cost = part.head.length + part.tail.length;
  for (let i = 0; i < kept; i++) cost += part.lines[i].length + 1;
  if (kept < part.lines.length) cost += part.more(part.lines.length - kept).length + 1;
  return cost;
}

function renderList(part: ListPart, kept: number): string {
  if (kept === 0) return part.compact;
  const lines = part.lines.slice(0, kept);
  if (kept < part.lines.length) lines.push(part.more(part.lines.length - kept));
  return `${part.head}${lines.join('\n')}\n${part.tail}`;
}

/** The most lines of the list that fit in `budget` characters (0: only its compact form). */
function linesWithin(part: ListPart, budget: number): number {
  if (listCost(part, part.lines.length) <= budget) return part.lines.length;
  let lo = 0;
  let hi = part.lines.length - 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (listCost(part, mid) <= budget) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Fair shares: the smallest lists are served first, each gets at most an equal share of what
 * is left, so one huge list cannot push the others out. Priority 1 lists are served before 2.
 */
function allocate(parts: Part[], limit: number): string {
  const lists = parts.filter((p): p is ListPart => typeof p !== 'string');
  const fixed = parts.reduce((sum, p) => sum + (typeof p === 'string' ? p.length : p.compact.length), 0);
  let budget = limit - fixed;
  const kept = new Map<ListPart, number>(lists.map((l) => [l, 0]));
  for (const priority of [1, 2] as const) {
    const tier = lists.filter((l) => l.priority === priority).sort((a, b) => listCost(a, a.lines.length) - listCost(b, b.lines.length));
    tier.forEach((list, i) => {
      // The compact form is already paid for in `fixed`.
      const share = Math.floor(Math.max(0, budget) / (tier.length - i)) + list.compact.length;
      const k = linesWithin(list, share);
      kept.set(list, k);
      budget -= listCost(list, k) - list.compact.length;
    });
  }
  return parts.map((p) => (typeof p === 'string' ? p : renderList(p, kept.get(p)!))).join('');
}

/** The plan as Markdown for a pull request comment, under `limit` characters at any fleet size. */
export function planMarkdown(plan: ChangeReport, options: { limit?: number } = {}): string {
  const limit = options.limit ?? MARKDOWN_LIMIT;
  const all = `run \`npx fleet plan --stack ${plan.stack}\` to list them all`;
  const moreDevices = (rest: number) => `- … and ${n(rest)} more (${all})`;
  const moreRows = (columns: number) => (rest: number) => `| … and ${n(rest)} more${' |'.repeat(columns)}`;
  /** A per-device list collapsed in <details>, or its count alone when it does not fit. */
  const details = (summary: string, lines: string[]): ListPart => ({
    head: `<details><summary>${summary}</summary>\n\n`,
    lines,
    more: moreDevices,
    tail: '\n</details>\n\n',
    compact: `${summary}: too many to list here (${all}).\n\n`,
    priority: 2,
  });
  const table = (header: string, rows: string[], columns: number, wrap = { open: '', close: '\n', what: 'rows' }): ListPart => ({
    head: `${wrap.open}${header}\n`,
    lines: rows,
    more: moreRows(columns),
    tail: wrap.close,
    compact: `${n(rows.length)} ${wrap.what}; too many to show here (${all}).\n\n`,
    priority: 1,
  });
  const bullets = (lines: string[]): ListPart => ({
    head: '',
    lines: lines.map((l) => `- ${cell(l)}`),
    more: (rest) => `- … and ${n(rest)} more (${all})`,
    tail: '\n',
    compact: `${n(lines.length)} entries; too many to show here (${all}).\n\n`,
    priority: 1,
  });

  const parts: Part[] = [`### Fleet plan: ring \`${plan.ring}\`\n\n`, `What \`pulumi up\` of the stack \`${plan.stack}\` would do, in the fleet's terms (configuration values are never shown).\n\n`];
  for (const stop of plan.stops) parts.push(`> [!CAUTION]\n> ${cell(stop)}\n\n`);
  parts.push(summaryLines(plan).map((l) => `- ${cell(l)}`).join('\n'), '\n\n');
  if (plan.errors.length > 0) parts.push('#### Errors\n\n', bullets(plan.errors));
  if (plan.warnings.length > 0) parts.push('#### Warnings\n\n', bullets(plan.warnings));
  if (plan.rollouts.length > 0) {
    parts.push('#### Rollouts\n\n');
    for (const rollout of plan.rollouts) parts.push(`- ${cell(rollout.lines[0])}\n${rollout.lines.slice(1).map((l) => `  - ${cell(l)}\n`).join('')}`);
    parts.push('\n');
  }

  if (plan.images.length > 0) {
    parts.push('#### Images\n\n');
    parts.push(
      table(
        '| image | devices getting it | already running it | they run now |\n|---|---:|---:|---|',
        plan.images.map((i) => `| ${code(i.image)} | ${n(i.devices.length)} | ${n(i.alreadyRunning)} | ${i.from.map((f) => `${f.image ? code(f.image) : '(unknown)'}: ${n(f.devices)}`).join(', ')} |`),
        3,
      ),
    );
    // The images most devices get, each with its breakdown and its devices; the table above has them all.
    const changing = plan.images.filter((i) => i.devices.length > 0).sort((a, b) => b.devices.length - a.devices.length || a.image.localeCompare(b.image));
    for (const image of changing.slice(0, DETAILED_IMAGES)) {
      const summary = `${htmlCode(image.image)}: ${devices(image.devices.length)} by device type and group`;
      parts.push(
        table('| device type | group | devices |\n|---|---|---:|', image.byTypeAndGroup.map((b) => `| ${code(b.deviceType)} | ${code(b.group)} | ${n(b.devices)} |`), 2, {
          open: `<details><summary>${summary}</summary>\n\n`,
          close: '\n</details>\n\n',
          what: `device type and group pairs for ${code(image.image)}`,
        }),
      );
      parts.push(details(`${htmlCode(image.image)}: the ${devices(image.devices.length)} getting it`, image.devices.map((d) => `- ${code(d)}`)));
    }
    if (changing.length > DETAILED_IMAGES) parts.push(`The other ${n(changing.length - DETAILED_IMAGES)} images are in the table only (${all}).\n\n`);
  }

  if (plan.joining.length + plan.leaving.length > 0) {
    parts.push(`#### Devices joining and leaving the ring \`${plan.ring}\`\n\n`);
    const rows = [
      ...movesByReason(plan.joining).map((m) => `| joins | ${n(m.devices)} | ${cell(m.why)} |`),
      ...movesByReason(plan.leaving).map((m) => `| leaves | ${n(m.devices)} | ${cell(m.why)} |`),
    ];
    parts.push(table('| | devices | why |\n|---|---:|---|', rows, 2));
    if (plan.joining.length > 0) parts.push(details(`${devices(plan.joining.length)} joining`, plan.joining.map((m) => `- ${code(m.device)}: ${cell(reasonText(m.reason, m.ring))}`)));
    if (plan.leaving.length > 0) parts.push(details(`${devices(plan.leaving.length)} leaving`, plan.leaving.map((m) => `- ${code(m.device)}: ${cell(reasonText(m.reason, m.ring))}`)));
  }

  if (plan.configurations.length + plan.unmanaged.length > 0) {
    parts.push('#### Configuration\n\n');
    if (plan.configurations.length > 0) {
      parts.push(
        table(
          '| key | added | changed | removed |\n|---|---:|---:|---:|',
          keyCounts(plan.configurations).map((k) => `| ${code(k.key)}${k.secret ? ' (secret)' : ''} | ${n(k.added)} | ${n(k.changed)} | ${n(k.removed)} |`),
          3,
        ),
      );
      parts.push(details(`${devices(plan.configurations.length)} with configuration changes`, plan.configurations.map((c) => `- ${code(c.device)}: ${cell(keysText(c))}`)));
    }
    if (plan.unmanaged.length > 0) parts.push(details(`${devices(plan.unmanaged.length)} no longer configured by the stack (Mender keeps their configuration)`, plan.unmanaged.map((d) => `- ${code(d)}`)));
  }

  if (plan.unknownToMender.length > 0) {
    parts.push('#### Listed in Git, unknown to Mender\n\n', details(devices(plan.unknownToMender.length), plan.unknownToMender.map((d) => `- ${code(d)}`)));
  }

  const gate = gateLines(plan.gate);
  parts.push('#### Promotion gate\n\n', `${cell(gateSummary(plan.gate))}.\n\n`);
  if (gate.length > 0) parts.push(bullets(gate));
  return allocate(parts, limit);
}
