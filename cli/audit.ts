import { auditEntries } from '../program/audit/entries';
import { formatAudit } from '../program/audit/report';
import { loadAuditUpdates } from './audit-source';

export interface AuditCommandOptions {
  stack: string;
  from?: number;
  to?: number;
  json?: boolean;
}

/** `fleet audit` (cli/commands/audit.ts): the updates from..to of a ring stack, as text or JSON entries. */
export async function runAudit(opts: AuditCommandOptions): Promise<void> {
  const updates = await loadAuditUpdates({ stack: opts.stack, from: opts.from, to: opts.to });
  const entries = auditEntries(updates, { from: opts.from, to: opts.to });
  console.log(opts.json ? JSON.stringify(entries, null, 2) : formatAudit(entries));
}
