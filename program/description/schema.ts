import { z } from 'zod';

/** Variables the project itself understands; any other variable is for the templates. */
export const KNOWN_VARIABLES = ['subscribed_branch', 'os_image', 'configuration', 'mender_server'] as const;

// Mender device ids are UUIDs (older servers used 24-hex-digit object ids; both are accepted).
export const MENDER_DEVICE_ID = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{24})$/;
export const ANSIBLE_GROUP_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BRANCH_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;

export const osImageSchema = z
  .array(
    z
      .object({
        device_type: z.string().min(1, 'device_type must not be empty'),
        image_name: z.string().min(1, 'image_name must not be empty'),
      })
      .strict(),
    { error: 'os_image must be a list of {device_type, image_name}' },
  );

export const configurationSchema = z
  .object({
    template: z.string({ error: 'configuration.template must name a file in templates/' }).min(1),
    parameters: z.record(z.string(), z.unknown(), { error: 'configuration.parameters must be a mapping' }).optional(),
  })
  .strict();

export const variablesSchema = z
  .object({
    subscribed_branch: z
      .string({ error: 'subscribed_branch must be a branch name such as canary or production' })
      .regex(BRANCH_NAME, 'subscribed_branch must be a branch name such as canary or production')
      .optional(),
    os_image: osImageSchema.optional(),
    configuration: configurationSchema.optional(),
    mender_server: z.url({ error: 'mender_server must be a URL such as https://hosted.mender.io' }).optional(),
  })
  .catchall(z.unknown());

export type OsImage = z.infer<typeof osImageSchema>[number];
export type Configuration = z.infer<typeof configurationSchema>;
export type Variables = z.infer<typeof variablesSchema>;

// Hosts map to nothing (`id:`) or to inline variables, as Ansible allows.
const hostsSchema = z.record(z.string(), z.union([z.null(), z.record(z.string(), z.unknown())]));

export const groupSchema = z
  .object({
    hosts: hostsSchema.optional(),
    vars: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const inventorySchema = z
  .object({
    all: z
      .object({
        children: z.record(z.string(), z.union([z.null(), groupSchema])).optional(),
        hosts: hostsSchema.optional(),
        vars: z.record(z.string(), z.unknown()).optional(),
      })
      .strict(),
  })
  .strict();

export type Inventory = z.infer<typeof inventorySchema>;
