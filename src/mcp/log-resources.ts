// Instance logs as MCP resources, `aegis://instances/{id}/logs`: listed per instance, read as the last lines
// (secret values masked by the daemon, as in every log).
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Aegis } from '../sdk/aegis.js';

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
    let text = '';
    let left = 0;
    for await (const e of aegis.logs(id, { tail: TAIL_LINES, signal: extra.signal })) {
      const line = `[${e.source}] ${e.line}\n`;
      // Whole lines up to the cap; the rest is counted.
      if (left === 0 && Buffer.byteLength(text) + Buffer.byteLength(line) <= MAX_BYTES) text += line;
      else left += Buffer.byteLength(line);
    }
    const note = left > 0 ? `[truncated: ${left} more bytes of log lines not shown]\n` : '';
    return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: text + note }] };
  });
}
