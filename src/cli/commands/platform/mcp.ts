// `aegis mcp`: serve the Model Context Protocol over stdio, for MCP clients (Claude Desktop, Cursor, VS Code).
import { Command } from 'clipanion';
import { Aegis } from '../../../sdk/aegis.js';
import { AegisCommand } from '../../base-command.js';

export class McpCommand extends AegisCommand {
  static override paths = [['mcp']];
  static override usage = Command.Usage({
    category: 'Platform commands',
    description: 'serve the Model Context Protocol over stdio',
    details: `
      For MCP clients (Claude Desktop, Cursor, VS Code): they start \`aegis mcp\` and speak MCP on its stdin and stdout. Its tools run a command in a fresh machine (\`run\`), create and stop a long-lived sandbox (\`sandbox_create\`, \`sandbox_stop\`), run commands in it (\`exec\`), read and write its files (\`read_file\`, \`write_file\`), list instances (\`list_instances\`) and read logs (\`logs\`); every instance's log is a resource (\`aegis://instances/ID/logs\`). Each tool takes \`timeoutSeconds\` and \`maxOutputBytes\`; output past the cap is counted and said, not shown. Values of secrets show as *** in everything a tool returns. The daemon must be running (\`aegis up\`).
    `,
    examples: [['Serve MCP (started by an MCP client)', '$0 mcp']],
  });

  async execute(): Promise<number> {
    // Loaded here: the MCP SDK is for this command only.
    const { serveMcpOverStdio } = await import('../../../mcp/server.js');
    await serveMcpOverStdio(new Aegis({ socket: this.context.paths.socket, source: 'mcp' }), this.context.stdin, this.context.stdout);
    return 0;
  }
}
