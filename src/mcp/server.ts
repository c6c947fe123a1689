// `aegis mcp`: a Model Context Protocol server over stdio (the official SDK), whose tools and resources are
// calls of the Aegis SDK on the local daemon. stdout carries the protocol only; diagnostics go to stderr.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Readable, Writable } from 'node:stream';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { AEGIS_VERSION } from '../config/version.js';
import type { Aegis } from '../sdk/aegis.js';
import { registerLogResources } from './log-resources.js';
import { registerTools } from './tools.js';

const INSTRUCTIONS = `Aegis runs commands in isolated machines on this host. Use "run" for a one-off command in a fresh machine.
For work that needs state across commands, "sandbox_create" a sandbox, then "exec", "write_file" and "read_file" in it, and "sandbox_stop" it when done.
Output is capped (maxOutputBytes) and says when it was truncated; secret values show as ***.`;

export function createMcpServer(aegis: Aegis): McpServer {
  const server = new McpServer({ name: 'aegis', version: AEGIS_VERSION }, { instructions: INSTRUCTIONS });
  registerTools(server, aegis);
  registerLogResources(server, aegis);
  return server;
}

/** Serves MCP on the command's stdin/stdout until the client closes stdin. */
export async function serveMcpOverStdio(aegis: Aegis, stdin: Readable, stdout: Writable): Promise<void> {
  const server = createMcpServer(aegis);
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = () => resolve();
  });
  await server.connect(new StdioServerTransport(stdin, stdout));
  // An input that has ended already (a closed pipe) emits no 'end' for a late listener.
  if (stdin.readableEnded) await server.close();
  else stdin.once('end', () => void server.close());
  await closed;
}
