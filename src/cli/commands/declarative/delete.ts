// `aegis delete KIND NAME` and `aegis delete -f PATH`: delete resources by name or by the files that define them.
import { Command, Option, UsageError } from 'clipanion';
import { AegisCommand } from '../../base-command.js';
import { AegisApiError } from '../../../sdk/errors.js';
import { objectId, readInputs } from '../../client/manifest-input.js';

export class DeleteCommand extends AegisCommand {
  static override paths = [['delete']];
  static override usage = Command.Usage({
    category: 'Declarative commands',
    description: 'delete resources by kind and name, or those defined in files',
    details: `
      With \`-f\`, every object the files define is deleted (dependents first); objects that do not exist are reported as not found and skipped. Deletion finishes in the background for kinds with clean-up to do (an app's releases, an instance's machine).
    `,
    examples: [
      ['Delete an app', '$0 delete app web'],
      ['Delete what a directory defines', '$0 delete -f deploy/'],
    ],
  });

  files = Option.Array('-f,--filename', [], { description: 'File or directory (repeatable)' });
  recursive = Option.Boolean('-R,--recursive', false, { description: 'Descend into subdirectories' });
  args = Option.Rest();

  async execute(): Promise<number> {
    const { client } = this.context;
    let targets: { kind: string; name: string }[];
    if (this.files.length > 0) {
      if (this.args.length > 0) throw new UsageError('give either KIND NAME or -f PATH, not both');
      const loaded = await readInputs(this.files, this.recursive, this.context.stdin);
      const { KINDS } = await import('../../../resources/kinds.js');
      targets = loaded.map((l) => ({ kind: l.manifest.kind, name: l.manifest.metadata.name })).sort((a, b) => KINDS.indexOf(b.kind as never) - KINDS.indexOf(a.kind as never));
    } else {
      if (this.args.length !== 2) throw new UsageError('usage: aegis delete KIND NAME (or aegis delete -f PATH)');
      targets = [{ kind: this.args[0]!, name: this.args[1]! }];
    }
    let missing = 0;
    for (const t of targets) {
      try {
        const r = await client.delete<{ kind: string; name: string }>(`/v1/resources/${encodeURIComponent(t.kind)}/${encodeURIComponent(t.name)}`);
        this.out(`${objectId(r.kind, r.name)} deleted`);
      } catch (err) {
        if (!(err instanceof AegisApiError && err.status === 404) || this.files.length === 0) throw err;
        missing++;
        this.out(`${objectId(t.kind, t.name)} not found`);
      }
    }
    return missing > 0 && missing === targets.length ? 1 : 0;
  }
}
