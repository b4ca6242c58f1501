// The pipeline from a stack's settings to what its update declares: settings → validated fleet
// → facts (one read of Mender) → plan and promotion gate (pure) → resources (index.ts declares
// them). The program and `fleet plan` both run it, so the pull request's plan is the merge's up.
import type { FleetIssue } from '../description/issues';
import { planRing, Plan } from './plan';
import { describeViolations, GateResult, promotionGate } from './gate';
import { clientFromSettings, ProviderSettings } from '../../provider/settings';
import type { MenderClient } from '../../provider/mender';
import { gatherPipelineFacts, PipelineFacts } from './facts';
import { settingsSummary, StackSettings } from './settings';
import { validateDescription, ValidatedFleet } from './validated-fleet';

/** Why the pipeline stopped before anything could be declared; nothing was sent to Mender. */
export interface PipelineStop {
  stage: 'settings' | 'validation' | 'plan' | 'gate';
  /** One line: the engine shows only the first line of a program error. */
  summary: string;
  /** Located problems, one message each. */
  issues: FleetIssue[];
  /** Further lines for people (the gate's refusal and its way out). */
  details: string[];
}

export interface PipelineRun {
  settings: StackSettings;
  /** Warnings of validation and planning, in that order. */
  warnings: FleetIssue[];
  validated?: ValidatedFleet;
  facts?: PipelineFacts;
  plan?: Plan;
  /** The gate's verdict; undefined when the ring promotes from no other, or planning failed. */
  gate?: GateResult;
  stop?: PipelineStop;
}

/** Mender could not be read; the message says why. Nothing was sent to Mender. */
export class FactsUnavailable extends Error {
  constructor(cause: unknown) {
    super(`cannot read the fleet's facts from Mender: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'FactsUnavailable';
  }
}

/**
 * The program's own client, made only once the fleet is valid (so a broken fleet is reported
 * without a server), and closed by whoever opened it. Secrets are read as plain text only to
 * talk to Mender from this process; they never become resource inputs.
 */
export class MenderConnection {
  private opened?: MenderClient;
  constructor(private readonly settings: ProviderSettings) {}

  client(): MenderClient {
    if (!this.opened) {
      try {
        this.opened = clientFromSettings(this.settings);
      } catch (error) {
        throw new FactsUnavailable(error);
      }
    }
    return this.opened;
  }

  close(): void {
    this.opened?.close();
  }
}

/** Settings and files only: no Mender needed. */
export function validateStack(settings: StackSettings): Pick<PipelineRun, 'validated' | 'warnings' | 'stop'> {
  if (settings.issues.length > 0) {
    return { warnings: settings.warnings, stop: { stage: 'settings', summary: settingsSummary(settings.issues), issues: settings.issues, details: [] } };
  }
  const validation = validateDescription(settings.fleetDir, settings.secrets, { strict: settings.strict, templates: settings.templates });
  if (!validation.fleet) {
    const summary = `the fleet description in ${settings.fleetDir} has ${validation.issues.length} error(s); nothing was sent to Mender`;
    return { warnings: [...settings.warnings, ...validation.warnings], stop: { stage: 'validation', summary, issues: validation.issues, details: [] } };
  }
  return { validated: validation.fleet, warnings: [...settings.warnings, ...validation.warnings] };
}

/** The plan and the gate's verdict: pure functions of the validated fleet, the facts and the settings. */
export function planAndGate(validated: ValidatedFleet, facts: PipelineFacts, settings: StackSettings): Pick<PipelineRun, 'plan' | 'gate' | 'stop'> {
  const { ring } = settings;
  const plan = planRing(validated.description, facts, { ring, strict: settings.strict, secrets: settings.secrets, defaultRing: settings.defaultRing, resolved: validated.resolved });
  if (plan.errors.length > 0) {
    const summary = `the fleet cannot be planned for ring ${ring} (${plan.errors.length} error(s)); nothing was sent to Mender`;
    return { plan, stop: { stage: 'plan', summary, issues: plan.errors, details: [] } };
  }
  const gate = promotionGate(plan, facts.sourceRing, settings.promotionOverrides);
  if (gate && gate.violations.length > 0) {
    const refusal = describeViolations(ring, gate.sourceRing, gate.violations);
    return { plan, gate, stop: { stage: 'gate', summary: refusal.summary, issues: [], details: refusal.details } };
  }
  return { plan, gate };
}

/**
 * The whole pipeline up to the resources. Throws FactsUnavailable when Mender cannot be read;
 * every other reason to stop is in `stop`.
 */
export async function runPipeline(settings: StackSettings, mender: MenderConnection): Promise<PipelineRun> {
  const validation = validateStack(settings);
  const run: PipelineRun = { settings, ...validation };
  if (!validation.validated) return run;
  let facts: PipelineFacts;
  try {
    facts = await gatherPipelineFacts(mender.client(), validation.validated, settings);
  } catch (error) {
    throw error instanceof FactsUnavailable ? error : new FactsUnavailable(error);
  }
  const planned = planAndGate(validation.validated, facts, settings);
  return { ...run, facts, ...planned, warnings: [...run.warnings, ...(planned.plan?.warnings ?? [])] };
}
