// All of stdin as text, for `-` arguments (a manifest, a secret value).
import type { Readable } from 'node:stream';

export async function readStdin(stdin: Readable | NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of stdin) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts).toString('utf8');
}
