// Machine size (`resources`: memoryMiB, vcpus): the schema, the defaults, and how layers of defaults combine.
import { z } from 'zod';

export const DEFAULT_RESOURCES = { memoryMiB: 512, vcpus: 1 } as const;

const memoryMiB = z.number().int().min(16).max(65536);
const vcpus = z.number().int().min(1).max(64);

/** A size the user sets: a field left out gets the default. */
export const machineResourcesSchema = z
  .strictObject({
    memoryMiB: memoryMiB.default(DEFAULT_RESOURCES.memoryMiB).describe('Guest memory in MiB, 16-65536 (default 512).'),
    vcpus: vcpus.default(DEFAULT_RESOURCES.vcpus).describe('Virtual CPUs, 1-64 (default 1).'),
  })
  .describe('Machine size. Leave the whole field out to inherit (from the kit or app), else missing values take the defaults.');

/** Suggested sizes (a kit's): only what is given is suggested. */
export const resourceDefaultsSchema = z
  .strictObject({
    memoryMiB: memoryMiB.optional().describe('Suggested guest memory in MiB, 16-65536.'),
    vcpus: vcpus.optional().describe('Suggested virtual CPUs, 1-64.'),
  })
  .describe('Default machine size for apps that do not set their own.');

export type MachineResources = z.infer<typeof machineResourcesSchema>;
export type ResourceDefaults = z.infer<typeof resourceDefaultsSchema>;

/** The effective size: the first layer that sets a field wins (e.g. app, then kit), then DEFAULT_RESOURCES. */
export function resolveResources(...layers: (ResourceDefaults | undefined)[]): MachineResources {
  const pick = <F extends keyof MachineResources>(f: F) => layers.find((l) => l?.[f] !== undefined)?.[f] ?? DEFAULT_RESOURCES[f];
  return { memoryMiB: pick('memoryMiB'), vcpus: pick('vcpus') };
}
