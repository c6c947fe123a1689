// Streams a directory (a guest's, or a local one for aegis cp) as a tar archive: entries relative to it, mode, mtime and owner kept, files
// read as they are sent (never whole in memory), symlinks stored as links (not followed), and sockets,
// FIFOs and devices left out (they have no content to copy).
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import tar from 'tar-stream';

export async function packDirectory(root: string, out: Writable): Promise<void> {
  const pack = tar.pack();
  const sent = pipeline(pack, out);
  try {
    // `./` first: the directory's own mode and mtime travel too.
    const st = await fs.promises.stat(root);
    await addEntry(pack, { name: './', type: 'directory', mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid });
    await addChildren(pack, root, '');
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
  }
  await sent;
}

async function addChildren(pack: tar.Pack, root: string, rel: string): Promise<void> {
  const dir = path.join(root, rel);
  const names = (await fs.promises.readdir(dir)).sort();
  for (const name of names) {
    const relName = rel === '' ? name : `${rel}/${name}`;
    const full = path.join(root, relName);
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(full);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // removed while we walked
      throw err;
    }
    const common = { name: relName, mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid };
    if (st.isDirectory()) {
      await addEntry(pack, { ...common, name: `${relName}/`, type: 'directory' });
      await addChildren(pack, root, relName);
    } else if (st.isSymbolicLink()) {
      await addEntry(pack, { ...common, type: 'symlink', linkname: await fs.promises.readlink(full) });
    } else if (st.isFile()) {
      await addFile(pack, full, { ...common, type: 'file', size: st.size });
    }
  }
}

type EntryHeader = Partial<tar.Header> & { name: string };

function addEntry(pack: tar.Pack, header: EntryHeader): Promise<void> {
  return new Promise((resolve, reject) => pack.entry(header, (err) => (err ? reject(err) : resolve())));
}

/** Sends exactly the size lstat saw: a file that shrank meanwhile fails the archive (tar-stream checks). */
async function addFile(pack: tar.Pack, file: string, header: EntryHeader & { size: number }): Promise<void> {
  const handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    const done = new Promise<void>((resolve, reject) => {
      const entry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
      if (header.size === 0) return void entry.end(undefined);
      const input = handle.createReadStream({ start: 0, end: header.size - 1, autoClose: false });
      input.on('error', (err) => entry.destroy(err));
      input.pipe(entry);
    });
    await done;
  } finally {
    await handle.close();
  }
}
