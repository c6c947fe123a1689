// Pulls an image through the daemon, drawing one progress line on a terminal and staying quiet otherwise.
import type { Writable } from 'node:stream';
import type { PullPolicy, PullProgress } from '../../images/pull-policy.js';
import { absolutizeImageRef } from '../../images/reference.js';
import { formatBytes } from '../output/bytes.js';
import { CliError } from '../cli-error.js';
import { Transport } from '../../sdk/transport.js';

export interface PulledImage {
  ref: string;
  digest: string;
  size: number;
  layers: number;
}

type PullLine = { progress: PullProgress } | { image: PulledImage } | { error: string; reason: string };

/** Resolves `oci:`/`docker-archive:` paths against the CLI's directory: the daemon's is another one. */
export const imageRefFromCli = (ref: string) => absolutizeImageRef(ref, process.cwd());

export async function pullImage(client: Transport, ref: string, policy: PullPolicy, stderr: Writable & { isTTY?: boolean }, failExitCode = 1): Promise<PulledImage> {
  const tty = stderr.isTTY === true;
  let drawn = false;
  const draw = (p: PullProgress) => {
    if (!tty || p.phase === 'done') return;
    const detail =
      p.phase === 'resolving' ? 'resolving' : `${p.layersDone}/${p.layersTotal} layers, ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}`;
    stderr.write(`\r\x1b[2KPulling ${p.ref}: ${detail}`);
    drawn = true;
  };
  const clear = () => {
    if (drawn) stderr.write('\r\x1b[2K');
  };
  try {
    for await (const line of client.ndjson<PullLine>('/v1/images/pull', { method: 'POST', body: { ref: imageRefFromCli(ref), policy } })) {
      if ('progress' in line) draw(line.progress);
      else if ('image' in line) return line.image;
      else throw new CliError(line.error, failExitCode);
    }
  } finally {
    clear();
  }
  throw new CliError('the daemon ended the pull without a result (see the daemon log)', failExitCode);
}
