// `aegis help` and `aegis <group> help`: top-level usage, or the usage of one command group.
import { Command, Option } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { CliError } from '../../cli-error.js';

export const GROUPS = ['app', 'secret', 'kit', 'instance', 'task', 'image'] as const;

export class HelpCommand extends AegisCommand {
  static override paths = [['help'], ['-h'], ['--help'], ...GROUPS.map((g) => [g, 'help'])];
  static override usage = Command.Usage({
    category: 'Platform commands',
    description: 'print usage (of everything, or of one command group)',
    examples: [
      ['Top-level usage', '$0 help'],
      ['App subcommands', '$0 app help'],
    ],
  });

  rest = Option.Rest();

  async execute(): Promise<number> {
    const group = this.path[0] !== 'help' && !this.path[0].startsWith('-') ? this.path[0] : this.rest[0];
    if (!group) {
      this.context.stdout.write(this.cli.usage(null));
      return 0;
    }
    const defs = this.cli.definitions().filter((d) => d.path.split(' ')[1] === group && !d.path.endsWith(' help'));
    if (defs.length === 0) throw new CliError(`unknown command group "${group}"; run: aegis help`);
    const lines = [`Usage: aegis ${group} <command> [options]`, ''];
    for (const d of defs) {
      lines.push(`  ${d.usage.trim()}`);
      if (d.description) lines.push(`      ${d.description}`);
    }
    lines.push('', `Run "aegis ${group} <command> -h" for the details of one command.`);
    this.out(lines.join('\n'));
    return 0;
  }
}
