// The tools `aegis mcp` offers a model: run a command in a fresh machine, create/stop a long-lived sandbox,
// exec in it, read and write its files, list instances, read logs. Every tool takes a timeout and an output
// cap; what a command prints comes back with the values of secrets masked by the daemon (a run's output
// always is; exec and read_file ask for it), so no secret value reaches the model.
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { Aegis } from '../sdk/aegis.js';
import { readAll } from '../sdk/transport.js';
import type { Execution } from '../sdk/execution.js';
import type { Instance } from '../sdk/resources.js';
import { OutputCap } from './output-cap.js';
import { errorLine, errorResult, MAX_TIMEOUT_SECONDS, textResult } from './tool-result.js';

/** Who created a resource through this server (`metadata.source`): sandbox_stop stops only these. */
export const MCP_SOURCE = 'mcp';
const DEFAULT_TIMEOUT_SECONDS = 60;
const DEFAULT_OUTPUT_BYTES = 64 * 1024;
const MAX_OUTPUT_BYTES = 1024 * 1024;
/** The port a sandbox declares: an Instance must expose one, though nothing in a sandbox needs to listen on it. */
const SANDBOX_PORT = 8080;
/** A sandbox's main process: sleeps until stopped, so the instance lives without a server. */
const KEEP_ALIVE = ['sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'];

const limits = {
  timeoutSeconds: z.number().int().min(1).max(MAX_TIMEOUT_SECONDS).optional().describe(`Stop after this many seconds (default ${DEFAULT_TIMEOUT_SECONDS}).`),
  maxOutputBytes: z.number().int().min(256).max(MAX_OUTPUT_BYTES).optional().describe(`Return at most this many bytes of output; the rest is counted, not shown (default ${DEFAULT_OUTPUT_BYTES}).`),
};
const commandSchema = z.array(z.string()).min(1, { error: 'command needs at least the program to run, e.g. ["ls", "-l"]' }).describe('The argv to run, e.g. ["sh", "-c", "echo hi | wc -c"] (no shell unless you run one).');
const envSchema = z.record(z.string(), z.string()).optional().describe('Environment variables for the command.');
const absolutePath = z.string().startsWith('/', { error: 'path must be absolute (start with /)' }).describe('Absolute path in the sandbox.');
const sandboxSchema = z.string().min(1).describe('The sandbox: an instance id from sandbox_create or list_instances, or an app name.');

type Limits = { timeoutSeconds?: number | undefined; maxOutputBytes?: number | undefined };

export function registerTools(server: McpServer, aegis: Aegis): void {
  server.registerTool(
    'run',
    {
      title: 'Run a command in a fresh machine',
      description: 'Runs a command to completion in a new isolated machine that is thrown away afterwards, and returns its exit code, stdout and stderr. Use sandbox_create and exec instead when state must persist between commands.',
      inputSchema: {
        command: commandSchema,
        image: z.string().optional().describe('OCI image to run in, e.g. "alpine:3.21" or "python:3.12-alpine" (default: a busybox base).'),
        env: envSchema,
        app: z.string().optional().describe("Run with this Aegis app's secrets (their values are masked in the output)."),
        ...limits,
      },
    },
    async (args, extra) =>
      collect(
        args,
        aegis.run(args.command, {
          ...(args.image ? { image: args.image } : {}),
          ...(args.env ? { env: args.env } : {}),
          ...(args.app ? { app: args.app } : {}),
          signal: extra.signal,
          timeoutMs: seconds(args) * 1000,
        }),
      ),
  );

  server.registerTool(
    'sandbox_create',
    {
      title: 'Create a long-lived sandbox',
      description:
        'Creates a machine that stays up between commands (files persist), for exec, read_file and write_file. It pauses when idle and resumes on the next exec; after idleStopMinutes paused it stops and cannot be used again, so create another. Returns its id. Stop it with sandbox_stop when done.',
      inputSchema: {
        image: z.string().optional().describe('OCI image, e.g. "alpine:3.21" (default: a busybox base). It needs sh and sleep.'),
        env: envSchema,
        idleStopMinutes: z.number().int().min(1).max(7 * 24 * 60).optional().describe('Minutes paused before it stops for good (default 60).'),
        ...limits,
      },
    },
    async (args, extra) =>
      guard(args, async (signal) => {
        const inst = await aegis.instances.create(
          { ...(args.image ? { image: args.image } : {}), command: KEEP_ALIVE, expose: [SANDBOX_PORT], env: args.env ?? {}, idle: { stopAfter: `${args.idleStopMinutes ?? 60}m` } },
          { signal },
        );
        return textResult(`sandbox ${inst.metadata.uid} created (image ${args.image ?? 'busybox base'}); it is starting: exec waits for it`);
      }, extra.signal),
  );

  server.registerTool(
    'sandbox_stop',
    {
      title: 'Stop and delete a sandbox',
      description: 'Stops a sandbox created with sandbox_create and deletes it with its files.',
      inputSchema: { sandbox: sandboxSchema, ...limits },
    },
    async (args, extra) =>
      guard(args, async (signal) => {
        const inst = await aegis.instances.get(args.sandbox, { signal });
        if (inst.metadata.source !== MCP_SOURCE) return errorResult(`${args.sandbox} was not created by sandbox_create; only those can be stopped here`);
        await aegis.instances.delete(inst.metadata.uid, { signal });
        return textResult(`sandbox ${inst.metadata.uid} stopped and deleted`);
      }, extra.signal),
  );

  server.registerTool(
    'exec',
    {
      title: 'Run a command in a sandbox',
      description: 'Runs a command in a running sandbox (a paused one resumes) and returns its exit code, stdout and stderr. Files and processes it leaves behind stay for the next exec.',
      inputSchema: { sandbox: sandboxSchema, command: commandSchema, env: envSchema, workdir: z.string().optional().describe('Working directory (absolute path).'), ...limits },
    },
    async (args, extra) =>
      collect(
        args,
        aegis.exec(args.sandbox, args.command, { ...(args.env ? { env: args.env } : {}), ...(args.workdir ? { workdir: args.workdir } : {}), mask: true, signal: extra.signal, timeoutMs: seconds(args) * 1000 }),
        stoppedHint,
      ),
  );

  server.registerTool(
    'read_file',
    {
      title: 'Read a file in a sandbox',
      description: 'Returns a text file from a sandbox (UTF-8; other bytes show as U+FFFD). Values of secrets in it are masked.',
      inputSchema: { sandbox: sandboxSchema, path: absolutePath, ...limits },
    },
    async (args, extra) =>
      guard(args, async (signal) => {
        const max = args.maxOutputBytes ?? DEFAULT_OUTPUT_BYTES;
        // mask: the daemon replaces the machine's secret values as it streams the file (a file may hold one:
        // an .env, a config written from the environment). `***` is shorter than a value: within the cap.
        const file = await aegis.files.read(args.sandbox, args.path, { maxBytes: max, mask: true, signal, timeoutMs: seconds(args) * 1000 });
        const content = (await readAll(file.body, signal)).toString('utf8');
        return textResult(file.truncated ? `${content}\n[output truncated: ${file.truncated} more bytes of ${args.path} not shown (maxOutputBytes ${max})]` : content);
      }, extra.signal, { hint: stoppedHint, capped: false }),
  );

  server.registerTool(
    'write_file',
    {
      title: 'Write a file in a sandbox',
      description: 'Writes text to a file in a sandbox, creating its parent directories and replacing the file whole.',
      inputSchema: {
        sandbox: sandboxSchema,
        path: absolutePath,
        content: z.string().describe('The file contents (UTF-8).'),
        mode: z.string().regex(/^[0-7]{3,4}$/).optional().describe('Octal permissions, e.g. "755" (default 644).'),
        ...limits,
      },
    },
    async (args, extra) =>
      guard(args, async (signal) => {
        const r = await aegis.files.write(args.sandbox, args.path, args.content, { signal, timeoutMs: seconds(args) * 1000, ...(args.mode ? { mode: args.mode } : {}) });
        return textResult(`wrote ${r.bytes} bytes to ${r.path}`);
      }, extra.signal),
  );

  server.registerTool(
    'list_instances',
    {
      title: 'List instances',
      description: 'Lists the instances (sandboxes and served apps) with their id, app, state, image and who created them.',
      inputSchema: { ...limits },
    },
    async (args, extra) =>
      guard(args, async (signal) => {
        const items = await aegis.instances.list({ signal });
        if (items.length === 0) return textResult('no instances');
        return textResult(items.map(describeInstance).join('\n'));
      }, extra.signal),
  );

  server.registerTool(
    'logs',
    {
      title: 'Read an instance log',
      description: "Returns an instance's recent log lines (its server, exec output, boot and Aegis's own lines), oldest first, each tagged with its source. Secret values are masked.",
      inputSchema: {
        instance: sandboxSchema,
        tail: z.number().int().min(1).max(10_000).optional().describe('Only the last N lines (default 200).'),
        since: z.string().optional().describe('Only lines since a duration ago ("10m") or an ISO 8601 time.'),
        ...limits,
      },
    },
    async (args, extra) =>
      guard(args, async (signal) => {
        const lines: string[] = [];
        for await (const e of aegis.logs(args.instance, { tail: args.tail ?? 200, ...(args.since ? { since: args.since } : {}), signal })) lines.push(`[${e.source}] ${e.line}`);
        // guard() applies maxOutputBytes (tail bounds what is read).
        return textResult(lines.length > 0 ? lines.join('\n') : 'no log lines');
      }, extra.signal),
  );
}

/** One line per instance for list_instances. */
export function describeInstance(i: Instance): string {
  const what = i.spec.app ? `app ${i.spec.app}` : `image ${i.spec.image ?? 'busybox base'}`;
  const sandbox = i.metadata.source === MCP_SOURCE ? ' (sandbox)' : '';
  return `${i.metadata.uid}  ${i.status.state ?? 'starting'}  ${what}${sandbox}  created ${i.metadata.createdAt}`;
}

const seconds = (args: Limits): number => args.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;

/** A stopped sandbox cannot be woken from here: say what to do instead. */
function stoppedHint(line: string): string {
  return line.startsWith('AEGIS_CONFLICT') && line.includes('stopped') ? `${line.split(';')[0]}; it stopped after being idle: create a new one with sandbox_create` : line;
}

/** Runs a call under the tool's timeout and the client's cancellation, its text within the output cap; any error becomes one line. */
async function guard(
  args: Limits,
  call: (signal: AbortSignal) => Promise<CallToolResult>,
  clientSignal: AbortSignal,
  /** `capped: false`: the call keeps to maxOutputBytes itself (and notes its own truncation). */
  { hint = (l: string) => l, capped = true }: { hint?: (line: string) => string; capped?: boolean } = {},
): Promise<CallToolResult> {
  const signal = AbortSignal.any([clientSignal, AbortSignal.timeout(seconds(args) * 1000)]);
  let result: CallToolResult;
  try {
    result = await call(signal);
  } catch (err) {
    return errorResult(hint(errorLine(err, seconds(args))));
  }
  if (!capped) return result;
  return { ...result, content: result.content.map((c) => (c.type === 'text' ? { ...c, text: capText(c.text, args) } : c)) };
}

/** `text` within maxOutputBytes, with a note of how much was left out. */
function capText(text: string, args: Limits): string {
  const max = args.maxOutputBytes ?? DEFAULT_OUTPUT_BYTES;
  const bytes = Buffer.from(text);
  if (bytes.length <= max) return text;
  return `${bytes.subarray(0, max).toString('utf8')}\n[output truncated: ${bytes.length - max} more bytes not shown (maxOutputBytes ${max})]`;
}

/** A run's or exec's output within the cap, its exit code, and on a timeout what came before it. */
async function collect(args: Limits, execution: Execution, hint: (line: string) => string = (l) => l): Promise<CallToolResult> {
  const cap = new OutputCap(args.maxOutputBytes ?? DEFAULT_OUTPUT_BYTES);
  const render = (head: string) => {
    const parts = [head];
    const out = cap.text('stdout');
    const err = cap.text('stderr');
    // One newline ends a section: the command's own last one.
    if (out) parts.push(`--- stdout ---\n${out.replace(/\n$/, '')}`);
    if (err) parts.push(`--- stderr ---\n${err.replace(/\n$/, '')}`);
    const note = cap.note();
    if (note) parts.push(note);
    return parts.join('\n').trimEnd();
  };
  try {
    // Aegis's own lines (output it had to drop) go with stderr, so no gap is silent.
    for await (const chunk of execution) cap.push(chunk.stream === 'stdout' ? 'stdout' : 'stderr', chunk.data);
    const status = await execution.wait();
    return textResult(render(`exit code: ${status.exitCode}${status.message ? ` (${status.message})` : ''}`));
  } catch (err) {
    return { ...errorResult(''), content: [{ type: 'text', text: render(hint(errorLine(err, seconds(args)))) }] };
  }
}
