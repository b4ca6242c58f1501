import * as nunjucks from 'nunjucks';
import { TemplateFile } from './load';

/** A value the template may read that must stay secret all the way to the device. */
export interface SecretSource {
  env: Readonly<Record<string, string | undefined>>;
  /** Pulumi stack configuration of the `fleet` namespace, and which of its keys are secret. */
  config: Readonly<Record<string, string | undefined>>;
  secretConfigKeys: ReadonlySet<string>;
}

export interface RenderedConfiguration {
  /** Mender's device configuration is a flat map of strings. */
  values: Record<string, string>;
  /** Keys whose value came, in whole or part, from a secret. */
  secretKeys: string[];
}

export class TemplateRenderError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
  ) {
    super(`${file}${line ? `:${line}` : ''}: ${reason}`);
    this.name = 'TemplateRenderError';
  }
}

// Secret values are rendered as markers first, so that we can tell which output keys carry a
// secret without ever comparing secret values; the markers are swapped for the values last.
const MARKER = /@@fleet-secret-(\d+)@@/gi;

function environment(secrets: string[], source: SecretSource): nunjucks.Environment {
  const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false, trimBlocks: true, lstripBlocks: true });
  const secret = (value: string) => `@@fleet-secret-${secrets.push(value) - 1}@@`;
  env.addFilter('mandatory', (value: unknown, line?: number, expression?: string) => {
    if (value === undefined || value === null) {
      throw new Error(`${atLine(line)}${expression ? `"${expression}" is mandatory but` : 'a mandatory variable is'} not defined`);
    }
    return value;
  });
  env.addFilter('to_json', (value: unknown) => JSON.stringify(value));
  env.addFilter('bool', (value: unknown) => ['true', 'yes', 'on', '1'].includes(String(value).toLowerCase()));
  env.addGlobal('__lookup', (line: number, kind: string, name: string) => {
    switch (kind) {
      case 'env': {
        const value = source.env[name];
        return value === undefined ? undefined : secret(value);
      }
      case 'config': {
        const value = source.config[name];
        if (value === undefined) return undefined;
        return source.secretConfigKeys.has(name) ? secret(value) : value;
      }
      default:
        throw new Error(`${atLine(line)}lookup('${kind}', …) is not supported; use lookup('env', NAME) or lookup('config', KEY)`);
    }
  });
  return env;
}

// Nunjucks reports no line for errors raised inside filters and globals, so the template is
// rewritten first to hand each `| mandatory` and `lookup(` the line it stands on.
const AT_LINE = /\[\[line (\d+)\]\] /;
const atLine = (line: number | undefined) => (line ? `[[line ${line}]] ` : '');

function withLines(text: string): string {
  return text
    .split('\n')
    .map((line, index) =>
      line
        .replace(/\blookup\(/g, `__lookup(${index + 1}, `)
        .replace(/\|\s*mandatory\b(?!\s*\()/g, (_match: string, offset: number) => {
          const opened = Math.max(line.lastIndexOf('{{', offset), line.lastIndexOf('{%', offset));
          const expression = opened >= 0 ? line.slice(opened + 2, offset).replace(/^-/, '').split('|')[0].trim() : '';
          return `| mandatory(${index + 1}, ${JSON.stringify(expression)})`;
        }),
    )
    .join('\n');
}

function lineOf(message: string): number | undefined {
  const match = /\[Line (\d+), Column \d+\]/.exec(message) ?? AT_LINE.exec(message);
  return match ? Number(match[1]) : undefined;
}

function reasonOf(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1) ?? message;
  return last.replace(/^Error: /, '').replace(AT_LINE, '');
}

/** Renders a configuration template for one device into Mender's flat string map. */
export function renderConfiguration(template: TemplateFile, variables: Record<string, unknown>, source: SecretSource): RenderedConfiguration {
  const secrets: string[] = [];
  let text: string;
  try {
    text = environment(secrets, source).renderString(withLines(template.text), variables);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new TemplateRenderError(template.file, lineOf(message), `does not render: ${reasonOf(message)}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TemplateRenderError(template.file, undefined, `does not render to JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TemplateRenderError(template.file, undefined, 'must render to a JSON object of configuration keys and values');
  }
  const values: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    const raw = typeof value === 'string' ? value : JSON.stringify(value);
    let secret = false;
    values[key] = raw.replace(MARKER, (_m, index: string) => {
      secret = true;
      return secrets[Number(index)];
    });
    if (secret) secretKeys.push(key);
  }
  return { values, secretKeys: secretKeys.sort() };
}
