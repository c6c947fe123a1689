// Instance logs as MCP resources, `aegis://instances/{id}/logs`: listed per instance, read as the last lines
// (secret values masked by the daemon, as in every log).
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Aegis } from '../sdk/aegis.js';
import { OutputCap } from './output-cap.js';

const TAIL_LINES = 500;
const MAX_BYTES = 256 * 1024;

export function registerLogResources(server: McpServer, aegis: Aegis): void {
  const template = new ResourceTemplate('aegis://instances/{id}/logs', {
    list: async () => ({
      resources: (await aegis.instances.list()).map((i) => ({
        uri: `aegis://instances/${i.metadata.uid}/logs`,
        name: `${i.spec.app ?? i.metadata.uid} logs`,
        mimeType: 'text/plain',
      })),
    }),
  });
  server.registerResource('instance-logs', template, { title: 'Instance logs', description: `The last ${TAIL_LINES} lines of an instance's log, tagged with their source.`, mimeType: 'text/plain' }, async (uri, vars, extra) => {
    const id = String(vars.id);
    const cap = new OutputCap(MAX_BYTES);
    for await (const e of aegis.logs(id, { tail: TAIL_LINES, signal: extra.signal })) cap.push('stdout', Buffer.from(`[${e.source}] ${e.line}\n`));
    return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: cap.text('stdout') + cap.note() }] };
  });
}
