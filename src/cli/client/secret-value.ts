// A secret VALUE argument: `-` reads it from stdin so it stays out of shell history and `ps`.
import type { Readable } from 'node:stream';

export async function secretValue(arg: string, stdin: Readable): Promise<string> {
  if (arg !== '-') return arg;
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  // `echo value | aegis secret set …` adds one newline that is not part of the value.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
