// `aegis apply -f PATH`: make the daemon's resources match a set of manifest files (all or nothing).
import { Command, Option } from 'clipanion';
import type { ApplyResult } from '../../../apply/apply-objects.js';
import { AegisCommand } from '../../base-command.js';
import { CliError } from '../../cli-error.js';
import { applySource, objectId, readInputs } from '../../client/manifest-input.js';
import { pollUntil } from '../../client/wait-for.js';
import type { ResourceView } from '../../output/resource-view.js';
import { parseSelector } from '../../options/label-selector.js';
import { readiness, servedInstance, type ReadinessSubject } from '../../../model/readiness.js';
import { parseDuration } from '../../../resources/duration.js';

export class ApplyCommand extends AegisCommand {
  static override paths = [['apply']];
  static override usage = Command.Usage({
    category: 'Declarative commands',
    description: 'create or update resources from manifest files',
    details: `
      Reads YAML or JSON files (multi-document; a directory means its *.yaml, *.yml and *.json; \`-R\` descends; \`-\` reads stdin), validates every document before writing any, and applies them in one transaction in dependency order (Secret, Kit, App, Release, Instance, Task). Prints one line per object: created, configured, unchanged or pruned; a configured app says when the change takes effect (\`~ live\`, \`~ next boot\`, \`~ restart\`). Applying the same files twice writes nothing.

      Secret values may be given as \`{valueFrom: {env: NAME}}\` or \`{valueFrom: {file: PATH}}\`, read here at apply time. \`--prune\` deletes objects this same set of paths applied before and no longer lists (never objects created by other commands or paths); \`-l\` limits pruning to matching labels. \`--dry-run\` prints the plan without writing. \`--wait\` waits until every applied object is ready.
    `,
    examples: [
      ['Apply a directory', '$0 apply -f deploy/'],
      ['Apply and remove what was deleted from it', '$0 apply -f deploy/ --prune'],
    ],
  });

  files = Option.Array('-f,--filename', { required: true, description: 'File or directory (repeatable; - for stdin)' });
  recursive = Option.Boolean('-R,--recursive', false, { description: 'Descend into subdirectories' });
  dryRun = Option.Boolean('--dry-run', false, { description: 'Print what would change without writing' });
  prune = Option.Boolean('--prune', false, { description: 'Delete objects these paths applied before and no longer list' });
  selector = Option.String('-l,--selector', { description: 'Prune only objects with these labels (k=v,…)' });
  wait = Option.Boolean('--wait', false, { description: 'Wait until the applied objects are ready' });
  timeout = Option.String('--timeout', '5m', { description: 'How long --wait waits' });
  output = Option.String('-o,--output', 'text', { description: 'text or json' });

  async execute(): Promise<number> {
    const { aegis, stdin } = this.context;
    const loaded = await readInputs(this.files, this.recursive, stdin, this.context.paths.manifestCache);
    const results = await aegis.apply(
      loaded.map((l) => l.manifest),
      { source: applySource(this.files), prune: this.prune, dryRun: this.dryRun, ...(this.selector ? { selector: parseSelector(this.selector) } : {}) },
    );
    if (this.output === 'json') this.out(JSON.stringify(results, null, 2));
    else for (const r of results) this.out(describeResult(r) + (this.dryRun ? ' (dry run)' : ''));
    if (this.wait && !this.dryRun) await this.waitReady(results.filter((r) => r.action !== 'pruned'));
    return 0;
  }

  /**
   * Waits for each object in turn until it is ready at the generation this apply wrote (see readiness); a
   * served app's instance too, at its current generation.
   */
  private async waitReady(results: ApplyResult[]): Promise<void> {
    const timeoutMs = parseDuration(this.timeout);
    for (const r of results) {
      const app = await this.waitFor(r.kind, r.name, r.generation, timeoutMs);
      const instance = servedInstance(app);
      if (instance) await this.waitFor('Instance', instance, undefined, timeoutMs);
    }
  }

  private async waitFor(kind: string, name: string, generation: number | undefined, timeoutMs: number): Promise<ReadinessSubject> {
    const id = objectId(kind, name);
    let last = '';
    return pollUntil(
      async () => {
        const cur = await this.context.client.get<ResourceView & ReadinessSubject>(`/v1/resources/${kind}/${name}`);
        const state = readiness(cur, generation);
        if (state.state === 'failed') throw new CliError(`${id} failed: ${state.why}`);
        if (state.state === 'waiting') last = state.why;
        return state.state === 'ready' ? cur : undefined;
      },
      timeoutMs,
      () => `${id} to be ready${last ? `: ${last}` : ''}`,
    );
  }
}

export function describeResult(r: ApplyResult): string {
  const effect = r.effect ? ` (~ ${r.effect}: ${r.fields?.join(', ')})` : '';
  return `${objectId(r.kind, r.name)} ${r.action}${effect}`;
}
