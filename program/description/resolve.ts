// What the project reads from a device's variables (its ring, its images, its configuration
// template), templated in the device's scope and checked once templated.
import { z } from 'zod';
import { closest, FleetIssue } from './issues';
import { TemplateRenderError } from './jinja';
import type { DeviceDescription, FleetDescription, TemplateFile } from './load';
import { configurationSchema, OsImage, variablesSchema } from './schema';
import { renderConfiguration, RenderedConfiguration } from './template';
import { DeviceScope, RawVariable, SecretSource } from './variables';

/** Facts of the device the templates may read besides its variables. */
export interface ScopeFacts {
  device_type: string;
  desired_os_image?: string;
}

/**
 * The device's scope: its variables, the parameters of its configuration (a template reads
 * them by name as well as through `configuration.parameters`), and the device's facts.
 */
export function deviceScope(device: DeviceDescription, secrets: SecretSource, facts: ScopeFacts): DeviceScope {
  const variables = new Map<string, RawVariable>(device.variables);
  const configuration = device.variables.get('configuration');
  const parameters = (configuration?.value as { parameters?: unknown } | undefined)?.parameters;
  if (configuration && typeof parameters === 'object' && parameters !== null && !Array.isArray(parameters)) {
    for (const [key, value] of Object.entries(parameters)) {
      const at = ['parameters', key];
      variables.set(key, { value, origin: { file: configuration.origin.file, lineOf: (keyPath) => configuration.origin.lineOf([...at, ...keyPath]) } });
    }
  }
  return new DeviceScope(variables, secrets, {
    device_id: device.id,
    inventory_hostname: device.id,
    group_names: [device.group],
    ...facts,
  });
}

type Resolved<T> = { value: T; issue?: undefined } | { value?: undefined; issue: FleetIssue };

/** A variable the project reads, templated and checked against its schema. */
function setting<T>(device: DeviceDescription, scope: DeviceScope, name: string, schema: z.ZodType<T>): Resolved<T | undefined> {
  const raw = device.variables.get(name);
  if (!raw) return { value: undefined };
  let value: unknown;
  try {
    value = scope.reveal(scope.get(name));
  } catch (error) {
    if (!(error instanceof TemplateRenderError)) throw error;
    return { issue: { file: error.file, line: error.line, message: `for device ${device.id}: ${error.reason}` } };
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return { value: parsed.data };
  const problem = parsed.error.issues[0];
  const where = problem.path.length > 0 ? `${name}.${problem.path.join('.')}` : name;
  return { issue: { file: raw.origin.file, line: raw.origin.lineOf([]), message: `for device ${device.id}: ${where} is ${JSON.stringify(value)} once templated: ${problem.message}` } };
}

const branchSchema = variablesSchema.shape.subscribed_branch;
const osImagesSchema = variablesSchema.shape.os_image;

export function gitRingOf(device: DeviceDescription, scope: DeviceScope): Resolved<string | undefined> {
  return setting(device, scope, 'subscribed_branch', branchSchema);
}

export function osImagesOf(device: DeviceDescription, scope: DeviceScope): Resolved<OsImage[]> {
  const images = setting(device, scope, 'os_image', osImagesSchema);
  return images.issue ? images : { value: images.value ?? [] };
}

/** Where os_image is set for the device, for messages about it. */
export function osImagesOrigin(device: DeviceDescription): { file: string; line?: number } | undefined {
  const raw = device.variables.get('os_image');
  return raw ? { file: raw.origin.file, line: raw.origin.lineOf([]) } : undefined;
}

/** The template the device is configured from, or none. */
export function configurationTemplateOf(fleet: FleetDescription, device: DeviceDescription, scope: DeviceScope): Resolved<TemplateFile | undefined> {
  const configuration = setting(device, scope, 'configuration', configurationSchema);
  if (configuration.issue || !configuration.value) return configuration.issue ? configuration : { value: undefined };
  const name = configuration.value.template;
  const template = fleet.templates.get(name);
  if (template) return { value: template };
  const raw = device.variables.get('configuration')!;
  const suggestion = closest(name, [...fleet.templates.keys()]);
  return {
    issue: {
      file: raw.origin.file,
      line: raw.origin.lineOf(['template']),
      message: `device ${device.id}: template "${name}" does not exist in ${fleet.templateDirs.map((d) => `${d}/`).join(' or ')}${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
    },
  };
}

/** Renders the device's configuration, or says where it fails. */
export function renderDeviceConfiguration(device: DeviceDescription, template: TemplateFile, scope: DeviceScope): Resolved<RenderedConfiguration> {
  try {
    return { value: renderConfiguration(template, scope) };
  } catch (error) {
    if (!(error instanceof TemplateRenderError)) throw error;
    return { issue: { file: error.file, line: error.line, message: `for device ${device.id}: ${error.reason}` } };
  }
}

/** A device's configuration: the template it names and the rendering in its scope. */
export interface DeviceConfigurationValue {
  template: TemplateFile;
  rendered: RenderedConfiguration;
}

/** The device's configuration (none when it names no template), or where it fails. */
export function deviceConfigurationOf(fleet: FleetDescription, device: DeviceDescription, scope: DeviceScope): Resolved<DeviceConfigurationValue | undefined> {
  const template = configurationTemplateOf(fleet, device, scope);
  if (template.issue || !template.value) return template.issue ? template : { value: undefined };
  const rendered = renderDeviceConfiguration(device, template.value, scope);
  return rendered.issue ? rendered : { value: { template: template.value, rendered: rendered.value } };
}
