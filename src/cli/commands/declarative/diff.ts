// `aegis diff -f PATH`: what `aegis apply` would change, per object; exit 0 none, 1 changes, 2 on error.
import { Command, Option } from 'clipanion';
import type { ApplyResult } from '../../../apply/apply-objects.js';
import { AegisCommand } from '../../base-command.js';
import { applySource, objectId, readInputs } from '../../client/manifest-input.js';
import { parseSelector } from '../../options/label-selector.js';
import { describeResult } from './apply.js';

/** kubectl's convention: >1 means diff itself failed, so scripts can tell "changes" from "broken". */
const EXIT_ERROR = 2;

export class DiffCommand extends AegisCommand {
  static override paths = [['diff']];
  static override usage = Command.Usage({
    category: 'Declarative commands',
    description: 'show what apply would change',
    details: `
      Runs the apply as a dry run and prints, per object that would change, the change with its JSON patch paths; \`-o json\` prints the RFC 6902 patches. Secret values are never shown (a changed value appears as \`<redacted:changed>\`). Exits 0 when nothing would change, 1 when something would, and 2 when the diff itself failed.
    `,
    examples: [['Diff a directory against the daemon', '$0 diff -f deploy/']],
  });

  files = Option.Array('-f,--filename', { required: true, description: 'File or directory (repeatable; - for stdin)' });
  recursive = Option.Boolean('-R,--recursive', false, { description: 'Descend into subdirectories' });
  prune = Option.Boolean('--prune', false, { description: 'Also show what --prune would delete' });
  selector = Option.String('-l,--selector', { description: 'Prune only objects with these labels' });
  output = Option.String('-o,--output', 'text', { description: 'text or json' });

  async execute(): Promise<number> {
    let results: ApplyResult[];
    try {
      const loaded = await readInputs(this.files, this.recursive, this.context.stdin, this.context.paths.manifestCache);
      const body = { source: applySource(this.files), objects: loaded.map((l) => l.manifest), prune: this.prune, dryRun: true, ...(this.selector ? { selector: parseSelector(this.selector) } : {}) };
      ({ results } = await this.context.client.post<{ results: ApplyResult[] }>('/v1/apply', body));
    } catch (err) {
      await this.catch(err);
      process.exitCode = EXIT_ERROR;
      return EXIT_ERROR;
    }
    const changed = results.filter((r) => r.action !== 'unchanged');
    if (this.output === 'json') {
      this.out(JSON.stringify(changed.map((r) => ({ object: objectId(r.kind, r.name), action: r.action, patch: r.patch ?? [] })), null, 2));
    } else {
      for (const r of changed) {
        this.out(describeResult(r));
        for (const op of r.patch ?? []) {
          const mark = op.op === 'add' ? '+' : op.op === 'remove' ? '-' : '~';
          this.out(`  ${mark} ${op.path}${'value' in op ? `: ${JSON.stringify(op.value)}` : ''}`);
        }
      }
    }
    return changed.length > 0 ? 1 : 0;
  }
}
