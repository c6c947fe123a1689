// `aegis cp SRC DEST`: copy files and directories between the host and an instance, as `docker cp` does.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { CliError } from '../../cli-error.js';
import { download, instanceRef, upload } from '../../client/file-copy.js';
import { DURATION_RULE, tryParseDuration } from '../../../resources/duration.js';

/** `NAME:/path` names a path in an instance; a local path with a colon is written `./a:b` or `/abs/a:b`. */
const GUEST_ARG = /^([A-Za-z0-9][A-Za-z0-9._-]*):(.*)$/s;

function guestArg(arg: string): { target: string; path: string } | undefined {
  const m = GUEST_ARG.exec(arg);
  if (!m) return undefined;
  if (!m[2].startsWith('/')) throw new CliError(`${arg}: the path in the instance must be absolute (${m[1]}:/path)`);
  return { target: m[1], path: m[2] };
}

export class CpCommand extends AegisCommand {
  static override paths = [['cp']];
  static override usage = Command.Usage({
    category: 'Instance commands',
    description: 'copy files and directories between the host and an instance',
    details: `
      One side is \`INSTANCE_OR_APP:/path\` (an app name means that app's own instance, as for \`aegis exec\`), the other a local path or \`-\`. A paused instance is resumed first; a stopped one is refused. Directories are copied whole, with modes and modification times; as with \`cp\`, a destination that is an existing directory (or ends with \`/\`) receives the source under its own name. In the instance, files are written as its server's user, each atomically (a temp file renamed into place); on the host a file appears whole or not at all, and so does a new directory.

      \`-\` as DEST writes a file's bytes to stdout, or a directory as a tar stream. \`-\` as SRC reads stdin: the file's bytes, or a tar stream extracted into DEST when DEST ends with \`/\`.

      \`--timeout\` stops the copy after that long (exit 1); nothing is left half-written in the instance.
    `,
    examples: [
      ['Copy a directory into an instance', '$0 cp ./data web:/workspace/data'],
      ['Print a file of an instance', '$0 cp web:/etc/os-release -'],
      ['Bring a directory back', '$0 cp web:/workspace/out ./out'],
      ['Upload from stdin', 'echo hi | $0 cp - web:/tmp/hi.txt'],
    ],
  });

  timeout = Option.String('--timeout', { description: 'Stop the copy after this long (e.g. 30s, 5m; default: the daemon\'s limit of 1h)' });
  src = Option.String({ name: 'SRC' });
  dest = Option.String({ name: 'DEST' });

  async execute(): Promise<number> {
    const { aegis, stdin, stdout } = this.context;
    const from = guestArg(this.src);
    const to = guestArg(this.dest);
    if (from && to) throw new CliError('copying between two instances is not supported: one side must be a local path or -');
    if (!from && !to) throw new CliError(`neither ${this.src} nor ${this.dest} names an instance path (INSTANCE_OR_APP:/path)`);
    const timeoutMs = this.timeout === undefined ? undefined : tryParseDuration(this.timeout);
    if (timeoutMs === 0 || (this.timeout !== undefined && timeoutMs === undefined)) throw new CliError(`--timeout ${this.timeout}: expected ${DURATION_RULE}`);
    // The daemon stops its side at the limit; our own timer, started first, stops ours and names the cause.
    const signal = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
    const opts = timeoutMs === undefined ? {} : { timeoutMs, signal };
    try {
      if (to) await upload(aegis.files, instanceRef(to.target), this.src, to.path, stdin, opts);
      else await download(aegis.files, instanceRef(from!.target), from!.path, this.dest, stdout, opts);
    } catch (err) {
      if (signal?.aborted) throw new CliError(`${this.src} → ${this.dest}: timed out after ${this.timeout}; the copy was stopped`);
      throw err;
    }
    return 0;
  }
}
