// Output for a model, within a byte budget: the first `maxBytes` of stdout and stderr together, in the order
// they came, and a note of how much of each stream was left out. Nothing is dropped silently.

export class OutputCap {
  private readonly kept = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  private readonly dropped = { stdout: 0, stderr: 0 };
  private used = 0;

  constructor(readonly maxBytes: number) {}

  push(stream: 'stdout' | 'stderr', data: Buffer): void {
    const room = Math.max(0, this.maxBytes - this.used);
    const take = Math.min(room, data.length);
    if (take > 0) this.kept[stream].push(data.subarray(0, take));
    this.used += take;
    this.dropped[stream] += data.length - take;
  }

  get truncated(): boolean {
    return this.dropped.stdout + this.dropped.stderr > 0;
  }

  text(stream: 'stdout' | 'stderr'): string {
    return Buffer.concat(this.kept[stream]).toString('utf8');
  }

  /** `[output truncated: N bytes of stdout and M bytes of stderr not shown (maxOutputBytes K)]`, or '' when nothing was cut. */
  note(): string {
    if (!this.truncated) return '';
    const parts = (['stdout', 'stderr'] as const).filter((s) => this.dropped[s] > 0).map((s) => `${this.dropped[s]} bytes of ${s}`);
    return `[output truncated: ${parts.join(' and ')} not shown (maxOutputBytes ${this.maxBytes})]`;
  }

  droppedBytes(): { stdout: number; stderr: number } {
    return { ...this.dropped };
  }
}
