// `$AEGIS_HOME/config.yaml`: the daemon's settings. Absent file = defaults; a bad file is an error naming the field.
import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { invalid } from '../errors/codes.js';

export const daemonConfigSchema = z.strictObject({
  images: z
    .strictObject({
      insecureRegistries: z
        .array(z.string().min(1))
        .default([])
        .describe('Registries (host[:port]) reached over plain HTTP. localhost, 127.0.0.0/8 and ::1 always are.'),
    })
    .default({ insecureRegistries: [] }),
});

export type DaemonConfig = z.infer<typeof daemonConfigSchema>;

export function loadDaemonConfig(file: string): DaemonConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return daemonConfigSchema.parse({});
    throw err;
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text) ?? {};
  } catch (err) {
    throw invalid(`${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const r = daemonConfigSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw invalid(`${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return r.data;
}
