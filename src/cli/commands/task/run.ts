// `aegis run`: run a command in a fresh machine (task mode) and behave like running it locally.
import fs from 'node:fs';
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { AegisCommand } from '../../base-command.js';
import { CliError } from '../../cli-error.js';
import { PULL_POLICIES } from '../../../images/pull-policy.js';
import { imageRefFromCli, pullImage } from '../../client/image-pull.js';
import { serveUntilInterrupted } from '../../client/serve-session.js';
import { parseEnvPairs } from '../../options/env-pairs.js';
import { parseEgressFlag, type NetworkPolicy } from '../../../resources/network-policy.js';
import { printExecution } from '../../client/task-output.js';
import { AegisApiError, AegisNotRunningError } from '../../../sdk/errors.js';
import { download, taskRef, upload } from '../../client/file-copy.js';

/** `--copy LOCAL:/guest/path`: the guest path is from the last `:/` on (a local path may hold colons). */
function copySpec(value: string): { local: string; guest: string } {
  const at = value.lastIndexOf(':/');
  if (at <= 0) throw new CliError(`--copy expects LOCAL:/guest/path, got "${value}"`, EXIT_NOT_STARTED);
  return { local: value.slice(0, at), guest: value.slice(at + 1) };
}

/** `--artifacts /guest/out:LOCAL`: the guest path runs up to the first colon. */
function artifactSpec(value: string): { guest: string; local: string } {
  const at = value.indexOf(':');
  if (!value.startsWith('/') || at < 0 || at === value.length - 1) throw new CliError(`--artifacts expects /guest/path:LOCAL, got "${value}"`, EXIT_NOT_STARTED);
  return { guest: value.slice(0, at), local: value.slice(at + 1) };
}

/** Like `docker run`: the command never started (bad image, no backend, daemon down). */
const EXIT_NOT_STARTED = 125;
const EXIT_INTERRUPTED = 130;

export class RunCommand extends AegisCommand {
  static override paths = [['run']];
  static override usage = Command.Usage({
    category: 'Task / serve commands',
    description: 'run a command inside a machine',
    details: `
      Without \`--expose\` (task mode) the command runs to completion in a fresh machine: its stdout and stderr stream to yours and \`aegis run\` exits with its exit code. Ctrl+C stops the task and exits 130. A failure before the command starts (no backend, bad image, daemon not running) exits 125; a command that is not found exits 127.

      \`--image REF\` runs in that image instead of the base rootfs (pulled when not cached; \`--pull always|missing|never\`); the command replaces the image's entrypoint and cmd, and the image's environment (ENV) and working directory apply. \`--env K=V\` sets a variable for the command (repeatable). The environment is the image's ENV, overridden by the workspace's secrets, then the app's secrets, then the app's env, then \`--env\`. The command runs as the image's USER; \`--user USER\` (\`uid\`, \`uid:gid\`, \`name\` or \`name:group\`, names from the image's /etc/passwd and /etc/group) runs it as another one, \`--user 0\` as root. \`--app APP\` runs with that app's secrets. Values of the app's and the workspace's secrets (4 bytes or longer) show as *** in the output. \`--memory MiB\` and \`--vcpus N\` size the machine; a command that needs more memory than it has is killed (exit 137).


      \`--copy LOCAL:/guest/path\` (repeatable) copies a local file or directory into the machine before the command starts (as \`aegis cp\` does: into an existing directory under its own name). \`--artifacts /guest/path:LOCAL\` (repeatable) brings a file or directory back after the command exits, before the machine is removed; one that is missing is an error (exit 1 when the command itself succeeded, else the command's code) after the command's own output and exit.

      \`--network\` says where the machine may connect to: \`all\` (the default, or the \`--app\`'s policy) reaches public addresses only (the host, private and link-local ranges stay blocked); \`none\` gives it no network at all; a comma-separated list (\`api.example.com:443,10.0.0.5:5432,*.example.org\`) allows exactly those host names, addresses, CIDRs and ports, and the machine's DNS answers only the listed names.
    `,
    examples: [
      ['Run a one-shot command', '$0 run -- echo "hello from aegis"'],
      ['Run with a custom image', '$0 run --image alpine:3.21 -- echo hello'],
      ['Pass environment', '$0 run --env GREETING=hi -- sh -c \'echo $GREETING\''],
      ['Allow one API only', '$0 run --network api.example.com:443 -- wget -qO- https://api.example.com/'],
      ['Seed inputs and collect results', '$0 run --copy ./src:/work/src --artifacts /work/out:./out -- sh -c "cd /work && make"'],
      ['Start a long-running server', '$0 run --expose 80 -- python -m http.server 80'],
    ],
  });

  image = Option.String('--image', { description: 'OCI image to use as the rootfs (default: the base rootfs)' });
  pull = Option.String('--pull', 'missing', { description: 'Pull the image: always, missing (default) or never', validator: t.isEnum(PULL_POLICIES) });
  expose = Option.Array('--expose', [], { description: 'Port to expose; switches to serve mode (repeatable)' });
  env = Option.Array('--env,-e', [], { description: 'Environment variable K=V for the command (repeatable)' });
  user = Option.String('--user,-u', { description: "Run as this user: uid[:gid] or name[:group] (default: the image's USER, else root)" });
  app = Option.String('--app', { description: "Run with an app's secrets" });
  memory = Option.String('--memory', { description: 'Memory limit in MiB (default 512)', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(16, 65536)]) });
  vcpus = Option.String('--vcpus', { description: 'Virtual CPUs (default 1)', validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 64)]) });
  copy = Option.Array('--copy', [], { description: 'Copy LOCAL:/guest/path into the machine before the command starts (repeatable)' });
  artifacts = Option.Array('--artifacts', [], { description: 'Copy /guest/path:LOCAL out of the machine after the command exits (repeatable)' });
  network = Option.String('--network', { description: 'Where the machine may connect to: all (default), none, or a comma-separated list of hosts, CIDRs and host:port' });
  command = Option.Rest({ required: 1 });

  async execute(): Promise<number> {
    const { aegis, client, stdout, stderr } = this.context;
    if (this.expose.length > 0) return this.serve();
    const resources = this.memory || this.vcpus ? { resources: { ...(this.memory ? { memoryMiB: this.memory } : {}), ...(this.vcpus ? { vcpus: this.vcpus } : {}) } } : {};
    const network = this.networkPolicy();
    const image = this.image ? imageRefFromCli(this.image) : undefined;
    const copies = this.copy.map(copySpec);
    const artifacts = this.artifacts.map(artifactSpec);
    for (const c of copies) if (!fs.existsSync(c.local)) throw new CliError(`--copy: no such file: ${c.local}`, EXIT_NOT_STARTED);
    // The task waits for its files: before its command (copies in) and after it (artifacts out).
    const hold = copies.length || artifacts.length ? { hold: { ...(copies.length ? { start: true } : {}), ...(artifacts.length ? { exit: true } : {}) } } : {};
    // The task would pull by itself; pulling first shows progress and keeps pull errors apart from run errors.
    const execution = aegis.run(this.command, { env: parseEnvPairs(this.env), ...(image ? { image, pull: 'missing' as const } : {}), ...(this.app ? { app: this.app } : {}), ...(this.user ? { user: this.user } : {}), ...resources, ...network, ...hold });
    let id: string;
    try {
      if (image) await pullImage(client, image, this.pull, stderr, EXIT_NOT_STARTED);
      id = await execution.taskId();
    } catch (err) {
      if (err instanceof AegisApiError || err instanceof AegisNotRunningError) throw new CliError(err.message, EXIT_NOT_STARTED);
      throw err;
    }

    // Ctrl+C: ask the daemon to stop the task, then leave with the conventional 130.
    let interrupted = false;
    const onInterrupt = () => {
      if (interrupted) process.exit(EXIT_INTERRUPTED);
      interrupted = true;
      execution.cancel().finally(() => process.exit(EXIT_INTERRUPTED));
    };
    process.on('SIGINT', onInterrupt);
    process.on('SIGTERM', onInterrupt);

    if (copies.length) {
      try {
        for (const c of copies) await upload(aegis.files, taskRef(id), c.local, c.guest, this.context.stdin);
        await aegis.tasks.start(id);
      } catch (err) {
        await execution.cancel().catch(() => undefined);
        throw new CliError(`--copy: ${(err as Error).message}`, EXIT_NOT_STARTED);
      }
    }

    const code = await printExecution(execution, stdout, stderr);
    if (!artifacts.length) return code;
    let missing = false;
    try {
      for (const a of artifacts) {
        try {
          await download(aegis.files, taskRef(id), a.guest, a.local, stdout);
        } catch (err) {
          missing = true;
          stderr.write(`error: --artifacts ${a.guest}: ${(err as Error).message} (the command exited with ${code})\n`);
        }
      }
    } finally {
      await aegis.tasks.release(id).catch(() => undefined);
    }
    // The command's own failure stays what the exit code says; a missing artifact fails a command that succeeded.
    return missing && code === 0 ? 1 : code;
  }

  /** Serve mode: an ad-hoc Instance (image or base rootfs, command, ports) served until Ctrl+C. */
  private async serve(): Promise<number> {
    const { client, stderr, stdout } = this.context;
    const expose = this.expose.map((p) => {
      if (!/^\d+$/.test(p)) throw new CliError(`--expose expects a port number, got "${p}"`, EXIT_NOT_STARTED);
      return Number(p);
    });
    const image = this.image ? imageRefFromCli(this.image) : undefined;
    const resources = this.memory || this.vcpus ? { resources: { ...(this.memory ? { memoryMiB: this.memory } : {}), ...(this.vcpus ? { vcpus: this.vcpus } : {}) } } : {};
    const network = this.networkPolicy();
    let id: string;
    try {
      if (image) await pullImage(client, image, this.pull, stderr, EXIT_NOT_STARTED);
      const body = { command: this.command, expose, env: parseEnvPairs(this.env), ...(image ? { image } : {}), ...(this.user ? { user: this.user } : {}), ...resources, ...network };
      id = (await this.context.aegis.instances.create(body)).metadata.uid;
    } catch (err) {
      if (err instanceof AegisApiError || err instanceof AegisNotRunningError) throw new CliError(err.message, EXIT_NOT_STARTED);
      throw err;
    }
    return serveUntilInterrupted(this.context.aegis, stdout, id, (url) => `Serving on ${url}`);
  }

  /** `--network` as the spec's `network` field; a bad entry exits 125 naming it, before anything is sent. */
  private networkPolicy(): { network?: NetworkPolicy } {
    if (this.network === undefined) return {};
    try {
      return { network: { egress: parseEgressFlag(this.network) } };
    } catch (err) {
      throw new CliError((err as Error).message, EXIT_NOT_STARTED);
    }
  }
}
