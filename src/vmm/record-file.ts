// Atomic JSON record files (state.json) that survive a daemon crash mid-write.
import fs from 'node:fs';

export function writeRecord(file: string, record: object): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readRecord<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
