// Builds a directory once, atomically: into a temp sibling, then renamed into place; a racing builder loses quietly.
import fs from 'node:fs';
import path from 'node:path';

export async function buildOnce(finalDir: string, build: (tmpDir: string) => Promise<void> | void): Promise<string> {
  if (fs.existsSync(finalDir)) return finalDir;
  fs.mkdirSync(path.dirname(finalDir), { recursive: true, mode: 0o700 });
  const tmp = fs.mkdtempSync(path.join(path.dirname(finalDir), `.tmp-${path.basename(finalDir)}-`));
  try {
    await build(tmp);
    fs.renameSync(tmp, finalDir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    // Another builder finished first: its result is as good as ours.
    if (fs.existsSync(finalDir)) return finalDir;
    throw err;
  }
  return finalDir;
}

/** Removes temp dirs left by builders that died mid-way (called at daemon start). */
export function removeStaleBuilds(parent: string): void {
  if (!fs.existsSync(parent)) return;
  for (const entry of fs.readdirSync(parent)) {
    if (entry.startsWith('.tmp-')) fs.rmSync(path.join(parent, entry), { recursive: true, force: true });
  }
}
