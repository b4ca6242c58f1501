// A device's variables as Ansible sees them: the layers merged by precedence (all < group <
// host), each value templated only when something uses it, in the device's scope, once.
import { AnsibleJinja, isTemplate, JinjaFailure, JinjaScope, TemplateRenderError } from './jinja';
import { SECRET_MARKER, secretMarker } from './jinja-failure';
import { isCredentialVariable } from './lookup-env';

/** Where a variable was set: its file, and the line of any value inside it. */
export interface VariableOrigin {
  file: string;
  /** The line of the value at `path` inside the variable ([] is the variable's key). */
  lineOf(path: readonly (string | number)[]): number | undefined;
}

export interface RawVariable {
  value: unknown;
  origin: VariableOrigin;
}

/** A value the templates may read that must stay secret all the way to the device. */
export interface SecretSource {
  env: Readonly<Record<string, string | undefined>>;
  /** The variables `lookup('env', NAME)` may read (fleet:lookupEnv, see lookup-env.ts). */
  lookupEnv: ReadonlySet<string>;
  /** Where lookupEnv was set, for the message when a name is missing from it. */
  lookupEnvSource?: string;
  /** Pulumi stack configuration of the `fleet` namespace, and which of its keys are secret. */
  config: Readonly<Record<string, string | undefined>>;
  secretConfigKeys: ReadonlySet<string>;
}

/** Stands on the resolving stack for a tracked resolution: a name no template can spell (templates read identifiers). */
const TRACKED = '\0tracked';

// Secrets travel as markers (jinja-failure.ts); the markers become the values only in the final
// map. An empty secret stays '', so that `x | length > 0` and `if x` see what Ansible sees.
const MARKER = SECRET_MARKER;

export class DeviceScope implements JinjaScope {
  private readonly values = new Map<string, unknown>();
  private readonly resolving: string[] = [];
  private readonly secrets: string[] = [];
  /** The names that are facts of the device (device_type, …), not variables from Git. */
  private readonly factNames = new Set<string>();
  /** Variables, and tracked renders, whose value read a fact (directly or through another variable). */
  private readonly readFacts = new Set<string>();
  readonly jinja: AnsibleJinja;

  constructor(
    private readonly raw: ReadonlyMap<string, RawVariable>,
    private readonly source: SecretSource,
    /** Values the project provides (desired_os_image, device_id, …); they are not templated. */
    facts: Record<string, unknown> = {},
  ) {
    for (const [name, value] of Object.entries(facts)) this.provide(name, value);
    this.jinja = new AnsibleJinja(this);
  }

  /** A fact known only later (desired_os_image, once the device's image is chosen). */
  provide(name: string, value: unknown): void {
    this.factNames.add(name);
    this.values.set(name, value);
  }

  /**
   * Runs `resolve` and says whether what it read depends on a fact of the device. A value that
   * reads none is the same whatever Mender reports, so validation can resolve it once for the
   * planner (program/pipeline/validated-fleet.ts).
   */
  tracking<T>(resolve: () => T): { value: T; readFacts: boolean } {
    const marker = TRACKED;
    this.resolving.push(marker);
    try {
      const value = resolve();
      return { value, readFacts: this.readFacts.has(marker) };
    } finally {
      this.resolving.pop();
      this.readFacts.delete(marker);
    }
  }

  has(name: string): boolean {
    // Asking whether a fact is defined reads it too: the answer may differ once the facts are real.
    if (this.factNames.has(name)) this.readFact();
    return this.values.has(name) || this.raw.has(name);
  }

  /** The templated value of a variable; throws TemplateRenderError at the file and line that failed. */
  get(name: string): unknown {
    // Whatever is being resolved now depends on a fact when it reads one, or reads a variable that did.
    if (this.factNames.has(name) || this.readFacts.has(name)) this.readFact();
    if (this.values.has(name)) return this.values.get(name);
    const variable = this.raw.get(name);
    if (!variable) return undefined;
    if (this.resolving.includes(name)) {
      const loop = [...this.resolving.slice(this.resolving.indexOf(name)), name].join(' → ');
      throw new TemplateRenderError(variable.origin.file, variable.origin.lineOf([]), `recursive loop detected in template string: ${loop}`);
    }
    this.resolving.push(name);
    try {
      const value = this.template(variable.value, [], variable.origin, name);
      this.values.set(name, value);
      return value;
    } finally {
      this.resolving.pop();
    }
  }

  lookup(line: number, kind: string, args: unknown[]): unknown {
    const [name] = args.map((a) => (typeof a === 'string' ? a : String(a)));
    switch (kind) {
      case 'env': {
        if (!this.source.lookupEnv.has(name)) {
          const where = this.source.lookupEnvSource ? ` (set in ${this.source.lookupEnvSource})` : '';
          const fix = isCredentialVariable(name)
            ? `${name} holds a credential of the runner and can never be read by a template`
            : `add ${name} to fleet:lookupEnv in the stack's Pulumi.<stack>.yaml, or to config.lookupEnv.default in Pulumi.yaml`;
          throw new JinjaFailure(line, `lookup('env', '${name}'): ${name} is not in fleet:lookupEnv${where}; ${fix}`);
        }
        // As in Ansible, a variable that is not set reads as the empty string.
        const value = this.source.env[name] ?? '';
        return value === '' ? '' : this.secret(value);
      }
      case 'config': {
        const value = this.source.config[name];
        if (value === undefined || value === '') return value;
        return this.source.secretConfigKeys.has(name) ? this.secret(value) : value;
      }
      default:
        throw new JinjaFailure(line, `lookup('${kind}', …) is not supported; use lookup('env', NAME) or lookup('config', KEY)`);
    }
  }

  /** A value in which secret markers are replaced by the secrets (for names the project reads: rings, images). */
  reveal(value: unknown): unknown {
    if (typeof value === 'string') return value.replace(MARKER, (_m, index: string) => this.secrets[Number(index)]);
    if (Array.isArray(value)) return value.map((v) => this.reveal(v));
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.reveal(v)]));
    return value;
  }

  /** Replaces the markers in a rendered string; says whether it held a secret. */
  unmark(text: string): { text: string; secret: boolean } {
    let secret = false;
    const revealed = text.replace(MARKER, (_m, index: string) => {
      secret = true;
      return this.secrets[Number(index)];
    });
    return { text: revealed, secret };
  }

  /** Marks everything being resolved now as depending on a fact of the device. */
  private readFact(): void {
    for (const outer of this.resolving) this.readFacts.add(outer);
  }

  private secret(value: string): string {
    return secretMarker(this.secrets.push(value) - 1);
  }

  private template(value: unknown, path: (string | number)[], origin: VariableOrigin, name: string): unknown {
    if (typeof value === 'string') {
      if (!isTemplate(value)) return value;
      try {
        return this.jinja.render(value, `${origin.file} (${[name, ...path].join('.')})`);
      } catch (error) {
        if (error instanceof TemplateRenderError) throw error;
        const reason = error instanceof JinjaFailure ? error.reason : reasonOf(error);
        throw new TemplateRenderError(origin.file, origin.lineOf(path), `${[name, ...path].join('.')} does not render: ${reason}`);
      }
    }
    if (Array.isArray(value)) return value.map((item, index) => this.template(item, [...path, index], origin, name));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.template(item, [...path, key], origin, name)]));
    }
    return value;
  }
}

/** The reason of a nunjucks error, without its location preamble (the caller locates it). */
export function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  return (lines.at(-1) ?? message).replace(/^Error: /, '').replace(/^\(.*?\) \[Line \d+, Column \d+\]\s*/, '');
}

/** The line of a nunjucks error (syntax errors and the like), when it names one. */
export function lineOfError(error: unknown): number | undefined {
  const message = error instanceof Error ? error.message : String(error);
  const match = /\[Line (\d+), Column \d+\]/.exec(message);
  return match ? Number(match[1]) : undefined;
}
