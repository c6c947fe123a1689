// Moves a finished temp directory to its final name; an existing destination is a conflict, never merged.
import fs from 'node:fs/promises';
import { conflict } from '../../errors/codes.js';

export async function renameIntoPlace(tmp: string, destDir: string, what: string): Promise<void> {
  try {
    await fs.rename(tmp, destDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw conflict(`${what} ${destDir} already exists`);
    throw err;
  }
}
