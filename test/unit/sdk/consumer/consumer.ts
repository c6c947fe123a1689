// A program that uses the SDK as a package user does (`import … from 'aegis'`), compiled against the built
// declarations by declarations.test.ts. It is type-checked, never run. The @ts-expect-error lines fail the
// compile if a type decays to `any` (say, the declarations are not found and everything is untyped).
import { Readable } from 'node:stream';
import { Aegis, AegisApiError, AegisNotRunningError, type ExitStatus, type FileStat, type InstanceLogEntry, type OutputChunk, type OutputResult, type RunOptions } from 'aegis';

export async function useEverything(): Promise<void> {
  const aegis = new Aegis({ home: '/tmp/aegis-home' });
  const controller = new AbortController();
  const options: RunOptions = { image: 'alpine:3.21', env: { A: 'b' }, resources: { memoryMiB: 256 }, signal: controller.signal, timeoutMs: 5_000, onStdout: (data: Buffer) => void data.length };

  const run = aegis.run(['sh', '-c', 'echo hi'], options);
  for await (const chunk of run) {
    const c: OutputChunk = chunk;
    const stream: 'stdout' | 'stderr' | 'system' = c.stream;
    const data: Buffer = c.data;
    void [stream, data];
  }
  const status: ExitStatus = await run.wait();
  const code: number = status.exitCode;
  // @ts-expect-error exitCode is a number, not a string
  const notText: string = status.exitCode;
  const taskId: string = await run.taskId();

  const out: OutputResult = await aegis.exec('web', ['ls', '/'], { mask: true, stdin: 'input', workdir: '/tmp', signal: controller.signal, timeoutMs: 1_000 }).output();
  const stdout: string = out.stdout;

  await aegis.files.write('web', '/tmp/a.txt', 'text', { mode: '644', mtime: new Date(), timeoutMs: 1_000 });
  await aegis.files.write({ task: taskId }, '/tmp/b.bin', Readable.from([Buffer.from('x')]));
  const file = await aegis.files.read('web', '/tmp/a.txt', { maxBytes: 100, mask: true, signal: controller.signal });
  const body: Readable = file.body;
  const truncated: number | undefined = file.truncated;
  const text: string = await aegis.files.readText('web', '/tmp/a.txt');
  const stat: FileStat = await aegis.files.stat('web', '/tmp');
  const kind: 'file' | 'directory' | 'symlink' | 'other' = stat.type;
  const listed: FileStat[] = (await aegis.files.list('web', '/tmp')).items;
  const tar: Readable = await aegis.files.readTar('web', '/tmp');
  // @ts-expect-error a target is a string or { task }
  await aegis.files.stat({ instance: 'web' }, '/tmp');

  for await (const entry of aegis.logs('web', { follow: true, tail: 10, signal: controller.signal })) {
    const e: InstanceLogEntry = entry;
    const line: string = e.line;
    void line;
  }

  try {
    await aegis.instances.get('nope');
  } catch (err) {
    if (err instanceof AegisApiError) {
      const reason: string = err.code;
      const httpStatus: number = err.status;
      void [reason, httpStatus];
    }
    if (err instanceof AegisNotRunningError) void err.message;
  }
  void [code, notText, stdout, body, truncated, text, kind, listed, tar];
}
