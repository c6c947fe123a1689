// The `aegis exec` command lines the quick path (quick-exec.ts) takes, parsed as the full command parses them:
//   exec [OPTION…] TARGET [OPTION…] -- COMMAND [ARG…]
//   exec [OPTION…] TARGET COMMAND [ARG…]          (no word of the command starting with "-")
// OPTION is -i/--interactive, or -e/--env K=V, -w/--workdir DIR, -u/--user USER with the value as the next word
// (not starting with "-"). Anything else (--help, --env=K=V, combined flags, a bad K=V pair…) is not taken:
// the full command parses it and, where it is wrong, says so with its usage.
import type { ExecRequest } from '../sdk/exec-request.js';
import { envObject } from './options/env-object.js';

export interface QuickExecArgs {
  target: string;
  request: ExecRequest;
  /** -i: the command reads our stdin. */
  interactive: boolean;
}

const VALUE_OPTIONS = new Map([
  ['-e', 'env'],
  ['--env', 'env'],
  ['-w', 'workdir'],
  ['--workdir', 'workdir'],
  ['-u', 'user'],
  ['--user', 'user'],
] as const);

/** The exec `argv` (starting with `exec`) asks for, or undefined when the full command is to parse it. */
export function quickExecArgs(argv: string[]): QuickExecArgs | undefined {
  if (argv[0] !== 'exec') return undefined;
  const dashes = argv.indexOf('--');
  const words = dashes < 0 ? argv.slice(1) : argv.slice(1, dashes);
  let command = dashes < 0 ? [] : argv.slice(dashes + 1);
  let target: string | undefined;
  let interactive = false;
  const env: string[] = [];
  let workdir: string | undefined;
  let user: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const option = VALUE_OPTIONS.get(word as never);
    if (word === '-i' || word === '--interactive') interactive = true;
    else if (option) {
      const value = words[++i];
      if (value === undefined || value.startsWith('-')) return undefined;
      if (option === 'env') env.push(value);
      else if (option === 'workdir') workdir = value;
      else user = value;
    } else if (word.startsWith('-') || word === '') return undefined;
    else if (target !== undefined) return undefined;
    else {
      target = word;
      // Without `--` the command is every word after TARGET, and no option may follow it.
      if (dashes < 0) {
        command = words.slice(i + 1);
        if (command.some((w) => w.startsWith('-'))) return undefined;
        break;
      }
    }
  }
  if (target === undefined || command.length === 0) return undefined;
  const parsedEnv = envObject(env);
  if ('bad' in parsedEnv) return undefined;
  const request: ExecRequest = {
    command,
    ...(env.length ? { env: parsedEnv.env } : {}),
    ...(workdir ? { workdir } : {}),
    ...(user ? { user } : {}),
  };
  return { target, request, interactive };
}
