// The pull vocabulary shared by the daemon and the CLI (kept free of heavy imports: the CLI loads it).
export type PullPolicy = 'always' | 'missing' | 'never';
export const PULL_POLICIES: readonly PullPolicy[] = ['always', 'missing', 'never'];

/** One progress report of a pull, sent to the CLI as NDJSON. */
export interface PullProgress {
  ref: string;
  phase: 'resolving' | 'downloading' | 'done';
  layersTotal: number;
  layersDone: number;
  bytesTotal: number;
  bytesDone: number;
}
