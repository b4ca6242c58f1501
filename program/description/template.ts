import { JinjaFailure, TemplateRenderError } from './jinja';
import type { TemplateFile } from './load';
import { DeviceScope, lineOfError, reasonOf } from './variables';

export { TemplateRenderError } from './jinja';
export type { SecretSource } from './variables';

export interface RenderedConfiguration {
  /** Mender's device configuration is a flat map of strings. */
  values: Record<string, string>;
  /** Keys whose value came, in whole or part, from a secret. */
  secretKeys: string[];
}

/** Renders a configuration template in a device's scope into Mender's flat string map. */
export function renderConfiguration(template: TemplateFile, scope: DeviceScope): RenderedConfiguration {
  let text: string;
  try {
    text = String(scope.jinja.render(template.text, template.file));
  } catch (error) {
    if (error instanceof TemplateRenderError) throw error;
    if (error instanceof JinjaFailure) throw new TemplateRenderError(template.file, error.line, `does not render: ${error.reason}`);
    throw new TemplateRenderError(template.file, lineOfError(error), `does not render: ${reasonOf(error)}`);
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
    const { text: revealed, secret } = scope.unmark(typeof value === 'string' ? value : JSON.stringify(value));
    values[key] = revealed;
    if (secret) secretKeys.push(key);
  }
  return { values, secretKeys: secretKeys.sort() };
}
