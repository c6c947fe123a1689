// Which secret values a machine's output is masked for: every value of its app's secrets and of the
// workspace's (all of them, not only those it reads: a value is masked wherever it shows up), compiled
// once per app and compiled again after any Secret changes, so a value set or rotated is masked from then on.
import type { SecretSpec } from '../resources/secret.js';
import type { Store } from '../store/store.js';
import { SecretMasker, SecretPatterns } from './secret-masker.js';

export class SecretMasks {
  /** Compiled values by app reference ('' for none); undefined = nothing to mask. */
  private readonly compiled = new Map<string, SecretPatterns | undefined>();
  private readonly unwatch: () => void;

  constructor(private readonly store: Store) {
    this.unwatch = store.onChange((e) => {
      if (e.kind === 'Secret') this.compiled.clear();
    });
  }

  /** A masker for one output stream of a machine of `app` (a name or id; absent: workspace secrets only). */
  masker(app: string | undefined): SecretMasker {
    return new SecretMasker(() => this.patterns(app));
  }

  close(): void {
    this.unwatch();
  }

  private patterns(app: string | undefined): SecretPatterns | undefined {
    const key = app ?? '';
    if (!this.compiled.has(key)) this.compiled.set(key, SecretPatterns.of(this.values(app)));
    return this.compiled.get(key);
  }

  private *values(app: string | undefined): Generator<string> {
    // Secrets name their app by name; a task may give its app's id.
    const name = app === undefined ? undefined : (this.store.get('App', app)?.metadata.name ?? app);
    for (const s of this.store.list<SecretSpec>('Secret')) {
      if (s.spec.app === undefined || s.spec.app === name) yield* Object.values(this.store.revealSecret(s.metadata.uid));
    }
  }
}
