// `aegis mcp` as an MCP client sees it: started as a child process and spoken to over stdio by the official
// SDK's Client. Tools are listed with their schemas; run, sandbox exec and the files tools work; a secret's
// value never comes back in a tool result, while the same exec through the CLI (unmasked) shows it.
import fs from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { AEGIS_BIN, scaled, withTempHome, type TempHome } from '../support/temp-home.js';

const SECRET = 'mcp-secret-9f8e7d6c';

const text = (r: unknown): string => ((r as CallToolResult).content[0] as { text: string }).text;

describe('aegis mcp over stdio', { timeout: scaled(60_000) }, () => {
  let t: TempHome;
  let registry: TestRegistry;
  let client: Client;
  let sandbox: string;

  beforeAll(async () => {
    registry = await startRegistry();
    // No shell, wc or head: read_file must not need them. Its config file holds the secret's value.
    const busybox = fs.readFileSync('/bin/busybox');
    const entries = [
      { name: 'bin/', type: 'directory' as const },
      { name: 'bin/busybox', content: busybox, mode: 0o755 },
      { name: 'bin/sleep', type: 'symlink' as const, linkname: 'busybox' },
      { name: 'etc/app.env', content: `MODE=prod\nTOKEN=${SECRET}\n` },
      { name: 'tmp/', type: 'directory' as const, mode: 0o1777 },
    ];
    await pushImage(registry.url, 'test/nosh', '1', await buildImage({ layers: [{ entries }], config: { Env: ['PATH=/bin'] } }));
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
    expect((await t.aegis(['secret', 'set-workspace', 'TOKEN', SECRET])).code).toBe(0);
    client = new Client({ name: 'aegis-test', version: '1.0.0' });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [AEGIS_BIN, 'mcp'], env: t.env as Record<string, string>, stderr: 'pipe' }));
  }, scaled(60_000));

  afterAll(async () => {
    await client?.close();
    await t?.dispose();
    await registry?.stop();
  }, scaled(60_000));

  it('lists its tools, each with a JSON input schema that takes a timeout and an output cap', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name).sort();
    expect(names).toEqual(['exec', 'list_instances', 'logs', 'read_file', 'run', 'sandbox_create', 'sandbox_stop', 'write_file']);
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe('object');
      expect(Object.keys(tool.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(['timeoutSeconds', 'maxOutputBytes']));
    }
    expect(tools.find((tool) => tool.name === 'run')!.inputSchema.required).toEqual(['command']);
  });

  it('runs echo hi in a fresh machine', async () => {
    const r = await client.callTool({ name: 'run', arguments: { command: ['echo', 'hi'] } });
    expect(r.isError).toBeFalsy();
    expect(text(r)).toBe('exit code: 0\n--- stdout ---\nhi');
  });

  it('caps output and says by how much it was truncated', async () => {
    const r = await client.callTool({ name: 'run', arguments: { command: ['sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" a; echo oops >&2; exit 3'], maxOutputBytes: 1000 } });
    expect(text(r)).toBe(`exit code: 3\n--- stdout ---\n${'a'.repeat(1000)}\n[output truncated: 4000 bytes of stdout and 5 bytes of stderr not shown (maxOutputBytes 1000)]`);
  });

  it('stops a command at its timeout and says so in one line, with what it printed before', async () => {
    const r = await client.callTool({ name: 'run', arguments: { command: ['sh', '-c', 'echo started; sleep 30'], timeoutSeconds: 2 } });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe('timed out after 2 s and was stopped; pass a larger timeoutSeconds (at most 3600) if it needs longer\n--- stdout ---\nstarted');
  });

  it('masks a secret value a run prints', async () => {
    const r = await client.callTool({ name: 'run', arguments: { command: ['sh', '-c', 'echo "token=$T"'], env: { T: SECRET } } });
    expect(text(r)).toBe('exit code: 0\n--- stdout ---\ntoken=***');
  });

  it('creates a sandbox, execs in it with secrets masked, and lists it', async () => {
    const created = await client.callTool({ name: 'sandbox_create', arguments: { env: { T: SECRET } } });
    expect(created.isError).toBeFalsy();
    sandbox = /sandbox (\S+) created/.exec(text(created))![1]!;
    const r = await client.callTool({ name: 'exec', arguments: { sandbox, command: ['sh', '-c', 'echo "token=$T"; echo "$T" >&2'], timeoutSeconds: 30 } });
    expect(text(r)).toBe('exit code: 0\n--- stdout ---\ntoken=***\n--- stderr ---\n***');
    // The mask is the MCP server's request: the CLI's exec, which asks for none, shows the value.
    expect((await t.aegis(['exec', sandbox, '--', 'sh', '-c', 'echo "$T"'])).stdout).toBe(`${SECRET}\n`);
    const list = await client.callTool({ name: 'list_instances', arguments: {} });
    expect(text(list)).toMatch(new RegExp(`^${sandbox}  running  image busybox base \\(sandbox\\)`));
  });

  it('reads a file in the sandbox with secret values masked, and names a missing path in one line', async () => {
    expect((await t.aegis(['exec', sandbox, '--', 'sh', '-c', 'printf "a=1\\nkey=%s\\n" "$T" > /tmp/conf'])).code).toBe(0);
    expect(text(await client.callTool({ name: 'read_file', arguments: { sandbox, path: '/tmp/conf' } }))).toBe('a=1\nkey=***\n');
    expect((await t.aegis(['exec', sandbox, '--', 'sh', '-c', 'head -c 1000 /dev/zero | tr "\\0" b > /tmp/big'])).code).toBe(0);
    const cut = await client.callTool({ name: 'read_file', arguments: { sandbox, path: '/tmp/big', maxOutputBytes: 256 } });
    expect(text(cut)).toBe(`${'b'.repeat(256)}\n[output truncated: 744 more bytes of /tmp/big not shown (maxOutputBytes 256)]`);
    const missing = await client.callTool({ name: 'read_file', arguments: { sandbox, path: '/nope/x' } });
    expect(missing.isError).toBe(true);
    expect(text(missing)).toBe(`AEGIS_NOT_FOUND: no such file in ${sandbox}: /nope/x`);
  });

  it('reads a file in an image without sh, its secret masked', async () => {
    const created = await t.api('POST', '/v1/instances', { image: `${registry.host}/test/nosh:1`, command: ['sleep', '3600'], expose: [8080] });
    expect(created.status).toBeLessThan(300);
    const id = created.body.metadata.uid as string;
    expect((await t.aegis(['exec', id, '--', 'sh', '-c', 'true'])).code).not.toBe(0);
    const r = await client.callTool({ name: 'read_file', arguments: { sandbox: id, path: '/etc/app.env', timeoutSeconds: 60 } });
    expect(r.isError).toBeFalsy();
    expect(text(r)).toBe('MODE=prod\nTOKEN=***\n');
    await t.api('DELETE', `/v1/instances/${id}`);
  });

  it('fetches logs: the exec output is there, masked', async () => {
    const r = await client.callTool({ name: 'logs', arguments: { instance: sandbox, tail: 50 } });
    expect(text(r)).toContain('[exec] token=***');
    expect(text(r)).not.toContain(SECRET);
    expect((await t.aegis(['exec', sandbox, '--', 'sh', '-c', 'head -c 600 /dev/zero | tr "\\0" x; echo'])).code).toBe(0);
    const capped = await client.callTool({ name: 'logs', arguments: { instance: sandbox, tail: 1, maxOutputBytes: 256 } });
    expect(text(capped)).toBe(`[exec] ${'x'.repeat(249)}\n[output truncated: 351 more bytes not shown (maxOutputBytes 256)]`);
    const res = await client.readResource({ uri: `aegis://instances/${sandbox}/logs` });
    expect((res.contents[0] as { text: string }).text).toContain('[exec] token=***');
  });

  it('answers errors with one line naming the cause', async () => {
    const r = await client.callTool({ name: 'exec', arguments: { sandbox: 'no-such-box', command: ['true'] } });
    expect(r.isError).toBe(true);
    expect(text(r)).toBe('AEGIS_NOT_FOUND: no instance or app named "no-such-box"');
    const relative = await client.callTool({ name: 'read_file', arguments: { sandbox, path: 'etc/passwd' } });
    expect(relative.isError).toBe(true);
    expect(text(relative)).toContain('path must be absolute (start with /)');
  });

  it('writes a file through write_file and reads it back through read_file', async () => {
    const w = await client.callTool({ name: 'write_file', arguments: { sandbox, path: '/work/notes/hello.txt', content: 'hello from mcp\n' } });
    expect(text(w)).toBe('wrote 15 bytes to /work/notes/hello.txt');
    expect(text(await client.callTool({ name: 'read_file', arguments: { sandbox, path: '/work/notes/hello.txt' } }))).toBe('hello from mcp\n');
  });

  it('stops the sandbox it created, and nothing else', async () => {
    const other = await t.api('POST', '/v1/instances', { command: ['sleep', '600'], expose: [8080] });
    const refused = await client.callTool({ name: 'sandbox_stop', arguments: { sandbox: other.body.metadata.uid } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toBe(`${other.body.metadata.uid} was not created by sandbox_create; only those can be stopped here`);
    const r = await client.callTool({ name: 'sandbox_stop', arguments: { sandbox } });
    expect(text(r)).toBe(`sandbox ${sandbox} stopped and deleted`);
  });
});
