// A secret VALUE argument: `-` reads it from stdin so it stays out of shell history and `ps`.
import type { Readable } from 'node:stream';
import { readStdin } from './read-stdin.js';

export async function secretValue(arg: string, stdin: Readable): Promise<string> {
  if (arg !== '-') return arg;
  // `echo value | aegis secret set …` adds one newline that is not part of the value.
  return (await readStdin(stdin)).replace(/\r?\n$/, '');
}
