// `$AEGIS_HOME/config.yaml`: the daemon's settings. Absent file = defaults; a bad file is an error naming the field.
import fs from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { invalid } from '../errors/codes.js';
import { byteSizeSchema } from '../resources/byte-size.js';
import { durationSchema } from '../resources/duration.js';
import { DEFAULT_CONNECTION_LIMITS } from '../router/connection-limiter.js';
import { quoteInput } from '../util/quote-input.js';

// A DNS name or an IP literal (IPv6 in brackets), as it appears in a Host header without its port.
const hostNameSchema = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.string().regex(/^(\[[0-9a-f:.]+\]|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$/, { error: (iss) => `${quoteInput(iss.input)} is not a host name (write it without scheme or port, an IPv6 address in brackets)` }));

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/** What the host and its disk give to workloads at most: defaults no normal use reaches, each hit reported by name. */
export const limitsSchema = z.strictObject({
  taskLog: byteSizeSchema
    .default(32 * MiB)
    .describe("Stored output kept per task; past it the oldest output is dropped (a system line says how much). Live followers still see everything."),
  instanceLog: byteSizeSchema
    .default(40 * MiB)
    .describe("Stored output kept per instance (in 4 rotated files); past it the oldest lines are dropped and a reader is told how many."),
  daemonLog: byteSizeSchema.default(10 * MiB).describe('Size at which aegisd.log is rotated; the 3 newest old files are kept.'),
  layer: byteSizeSchema.default(8 * GiB).describe('Unpacked bytes of one image layer; a layer past it is refused.'),
  layerEntries: z.number().int().positive().default(1_000_000).describe('Entries (files, directories, links) of one image layer; a layer past it is refused.'),
  machineDisk: byteSizeSchema
    .default(4 * GiB)
    .describe("Size of the disk that holds one machine's rootfs changes (sparse: only what is written takes space); past it the guest gets ENOSPC."),
  console: byteSizeSchema
    .default(1 * MiB)
    .describe("Size of a machine's console file past which it is cut back to its boot and its newest lines (a line says how much was dropped)."),
  // 4: idle servers use a small part of their limit, so ~190 instances of 512 MiB fit a 24 GiB host while
  // a single machine still can never be larger than the host.
  memoryOvercommit: z
    .number()
    .positive()
    .default(4)
    .describe("The memory of all running machines may add up to the host's memory times this (below 1 keeps memory back for the host)."),
});

export type Limits = z.infer<typeof limitsSchema>;

export const daemonConfigSchema = z.strictObject({
  images: z
    .strictObject({
      insecureRegistries: z
        .array(z.string().min(1))
        .default([])
        .describe('Registries (host[:port]) reached over plain HTTP. localhost, 127.0.0.0/8 and ::1 always are.'),
    })
    .default({ insecureRegistries: [] }),
  router: z
    .strictObject({
      host: z.string().default('127.0.0.1').describe('Address the router and the per-port listeners bind (keep it on loopback).'),
      port: z.number().int().min(0).max(65535).default(8099).describe('Router port (0 picks a free one).'),
      wakeTimeout: durationSchema.default('30s').describe('How long a request waits for a stopped or paused instance to wake before a 503.'),
      hosts: z
        .array(hostNameSchema)
        .default([])
        .describe('Host names (no port) the router answers besides localhost, *.localhost, 127.0.0.1 and [::1]; any other Host gets 421 (a DNS-rebinding guard).'),
      headerTimeout: durationSchema.default('5s').describe('How long a client may take to send a request line and headers before the connection is closed (408).'),
      requestTimeout: durationSchema.default('10m').describe('How long a client may take to send one whole request, body included (0s: no limit, for slower uploads).'),
      idleTimeout: durationSchema.default('5m').describe('A router connection with no bytes either way for this long is closed, WebSockets included (0s: never).'),
      // Well under a 1024 soft fd limit, which the daemon shares with its machines, logs and store.
      maxConnections: z.number().int().min(1).default(DEFAULT_CONNECTION_LIMITS.total).describe('Open client connections the router and the per-port listeners hold in all; more are dropped.'),
      maxConnectionsPerClient: z.number().int().min(1).default(DEFAULT_CONNECTION_LIMITS.perClient).describe('Open client connections from one address (every local client is 127.0.0.1); more are dropped.'),
    })
    .prefault({}),
  idle: z
    .strictObject({
      pauseAfter: durationSchema.default('60s').describe('Pause an instance after this long without connections or activity.'),
      stopAfter: durationSchema.default('5m').describe('Stop an instance after it has been paused this long.'),
    })
    .default({ pauseAfter: '60s', stopAfter: '5m' }),
  limits: limitsSchema.prefault({}),
  sandbox: z
    .strictObject({
      allowHostRoot: z
        .boolean()
        .default(false)
        .describe(
          "Where the host cannot give sandbox machines a user namespace (disabled, or a kernel before 5.19), run them with guest root = host root instead of refusing to start them. Capabilities, no_new_privs and the system call filter still apply, but a kernel bug or a missed path then reaches the host as root: do not run untrusted code so.",
        ),
    })
    .prefault({}),
  ui: z
    .strictObject({
      enabled: z.boolean().default(true).describe('Whether `aegis ui` may start the web dashboard (false: it is refused, and no port is opened).'),
      port: z
        .number()
        .int()
        .min(0)
        .max(65535)
        .default(0)
        .describe('Port of the dashboard on 127.0.0.1, opened by the first `aegis ui` (0 picks a free one; the URL `aegis ui` prints says which).'),
    })
    .prefault({}),
  watch: z.string().min(1).optional().describe('A directory of manifests the daemon applies (with prune) whenever it changes.'),
  watchInterval: durationSchema.default('30s').describe('How often the watched directory is applied again anyway, repairing drift.'),
  watchEnv: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'))
    .default([])
    .describe(
      'Environment variables the watched directory may read with `valueFrom: {env: NAME}` (no others: its files are applied as root). `aegis up` passes them on to the daemon.',
    ),
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
