// Merges unpacked layer dirs, lowest first, into one directory for backends that cannot stack overlay lower dirs (libkrun, qemu's mkfs.ext4 -d).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { AegisError, conflict, invalid, isAegisError, notSupported } from '../../errors/codes.js';
import { WHITEOUT_RECORD, type WhiteoutRecord } from './unpack-layer.js';
import { renameIntoPlace } from './rename-into-place.js';

export interface FlattenStats {
  /** Entries copied (files, dirs, symlinks, fifos), counting each layer's copy. */
  entries: number;
  /** Paths removed by whiteouts and opaque dirs. */
  removed: number;
}

interface DirMeta {
  st: Stats;
}

/**
 * Applies `layerDirs` (as written by `unpackLayer`, lowest layer first) into `destDir`, which must
 * not exist yet; built in `destDir.tmp-<random>` and renamed into place, removed on any error.
 *
 * Whiteouts are honoured in both forms `unpackLayer` writes: overlayfs form (character device 0/0
 * and `trusted.overlay.opaque=y`, read with `getfattr`) and the `WHITEOUT_RECORD` file. Within a
 * layer, whiteouts and opaque markers apply before that layer's own entries. Writes never go
 * through a symlink: each directory is visited before its children and made a real directory in
 * the destination first (a symlink or file from a lower layer there is replaced, as overlayfs
 * shows it), and every existing destination path is removed before it is written.
 * Hardlinks inside one layer stay hardlinks; ownership is kept when running as root.
 */
export async function flattenLayers(layerDirs: string[], destDir: string): Promise<FlattenStats> {
  try {
    await fs.lstat(destDir);
    throw conflict(`flattened rootfs ${destDir} already exists`);
  } catch (err) {
    if (isAegisError(err)) throw err;
  }
  await fs.mkdir(path.dirname(destDir), { recursive: true });
  const tmp = `${destDir}.tmp-${randomBytes(6).toString('hex')}`;
  await fs.mkdir(tmp, { mode: 0o755 });
  try {
    const flattener = new Flattener(tmp);
    for (const [i, dir] of layerDirs.entries()) await flattener.layer(dir, i);
    await flattener.finish();
    await renameIntoPlace(tmp, destDir, 'flattened rootfs');
    return flattener.stats;
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    if (isAegisError(err)) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new AegisError('AEGIS_INTERNAL', `flattening layers into ${destDir} failed: ${msg}`);
  }
}

class Flattener {
  readonly stats: FlattenStats = { entries: 0, removed: 0 };
  private readonly asRoot = process.getuid?.() === 0;
  /** Final metadata per directory, from the highest layer that has it; applied deepest first at the end. */
  private readonly dirMeta = new Map<string, DirMeta>();
  /** Source inode (per layer) → destination path, to keep hardlinks. */
  private inodes = new Map<string, string>();

  constructor(private readonly root: string) {}

  async layer(layerDir: string, index: number): Promise<void> {
    this.inodes = new Map();
    const record = await readRecord(layerDir);
    let opaque: Set<string>;
    if (record) {
      for (const rel of record.opaqueDirs) await this.clearChildren(rel);
      for (const rel of record.whiteouts) await this.remove(rel);
      opaque = new Set();
    } else {
      opaque = opaqueDirs(layerDir);
    }
    await this.walk(layerDir, '', opaque, index);
  }

  private async walk(layerDir: string, rel: string, opaque: Set<string>, index: number): Promise<void> {
    const src = rel === '' ? layerDir : path.join(layerDir, rel);
    const st = await fs.lstat(src);
    if (rel !== '') {
      await this.ensureRealDir(rel);
      this.stats.entries++;
    }
    if (opaque.has(rel)) await this.clearChildren(rel);
    this.dirMeta.set(rel, { st });
    const names = (await fs.readdir(src)).sort();
    for (const name of names) {
      if (rel === '' && name === WHITEOUT_RECORD) continue;
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const childSrc = path.join(layerDir, childRel);
      const cst = await fs.lstat(childSrc);
      if (cst.isDirectory()) {
        await this.walk(layerDir, childRel, opaque, index);
      } else if (cst.isCharacterDevice() && cst.rdev === 0) {
        await this.remove(childRel);
      } else {
        await this.copy(childSrc, childRel, cst, index);
      }
    }
  }

  /** Makes `rel` a real directory in the destination; its parent is one already (visited first). */
  private async ensureRealDir(rel: string): Promise<void> {
    const dest = this.abs(rel);
    const cur = await lstatOrUndefined(dest);
    if (cur?.isDirectory()) return;
    if (cur) {
      await fs.rm(dest, { recursive: true, force: true });
      this.stats.removed++;
    }
    await fs.mkdir(dest, { mode: 0o755 });
  }

  private async copy(src: string, rel: string, st: Stats, index: number): Promise<void> {
    const dest = this.abs(rel);
    const cur = await lstatOrUndefined(dest);
    if (cur) {
      await fs.rm(dest, { recursive: true, force: true });
      this.forgetDirMeta(rel);
    }
    if (st.isFile()) {
      const key = `${index}:${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? this.inodes.get(key) : undefined;
      if (first) {
        await fs.link(this.abs(first), dest);
        this.stats.entries++;
        return;
      }
      // COPYFILE_EXCL: never opens an existing path, so never writes through a symlink.
      await fs.copyFile(src, dest, fs.constants.COPYFILE_EXCL | fs.constants.COPYFILE_FICLONE);
      if (st.nlink > 1) this.inodes.set(key, rel);
      if (this.asRoot) await fs.lchown(dest, st.uid, st.gid);
      await fs.chmod(dest, st.mode & 0o7777);
      await fs.utimes(dest, st.atime, st.mtime);
    } else if (st.isSymbolicLink()) {
      await fs.symlink(await fs.readlink(src), dest);
      if (this.asRoot) await fs.lchown(dest, st.uid, st.gid);
      await fs.lutimes(dest, st.atime, st.mtime);
    } else if (st.isFIFO()) {
      execFileSync('mkfifo', ['-m', (st.mode & 0o777).toString(8), '--', dest], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (this.asRoot) await fs.lchown(dest, st.uid, st.gid);
      await fs.lutimes(dest, st.atime, st.mtime);
    } else {
      // Sockets and device nodes other than whiteouts never come out of unpackLayer.
      return;
    }
    this.stats.entries++;
  }

  /** Removes `rel` from the destination if it is there, without following a symlink on the way. */
  private async remove(rel: string): Promise<void> {
    if (!(await this.realParents(rel))) return;
    const dest = this.abs(rel);
    if (!(await lstatOrUndefined(dest))) return;
    await fs.rm(dest, { recursive: true, force: true });
    this.forgetDirMeta(rel);
    this.stats.removed++;
  }

  /** Empties directory `rel` in the destination (an opaque dir hides all lower content). */
  private async clearChildren(rel: string): Promise<void> {
    if (rel !== '' && !(await this.realParents(`${rel}/x`))) return;
    const dest = this.abs(rel);
    if (!(await lstatOrUndefined(dest))?.isDirectory()) return;
    for (const name of await fs.readdir(dest)) {
      await fs.rm(path.join(dest, name), { recursive: true, force: true });
      this.forgetDirMeta(rel === '' ? name : `${rel}/${name}`);
      this.stats.removed++;
    }
  }

  /** True when every parent of `rel` is a real directory in the destination (no symlink on the path). */
  private async realParents(rel: string): Promise<boolean> {
    if (rel.split('/').some((p) => p === '..' || p === '.' || p === '')) throw invalid(`whiteout record names a bad path "${rel}"`);
    const parts = rel.split('/');
    let cur = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      cur = path.join(cur, parts[i]);
      const st = await lstatOrUndefined(cur);
      if (!st?.isDirectory()) return false;
    }
    return true;
  }

  private forgetDirMeta(rel: string): void {
    const prefix = `${rel}/`;
    for (const k of [...this.dirMeta.keys()]) if (k === rel || k.startsWith(prefix)) this.dirMeta.delete(k);
  }

  async finish(): Promise<void> {
    const dirs = [...this.dirMeta.entries()].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, { st }] of dirs) {
      const dest = this.abs(rel);
      if (this.asRoot) await fs.lchown(dest, st.uid, st.gid);
      await fs.chmod(dest, st.mode & 0o7777);
      await fs.utimes(dest, st.atime, st.mtime);
    }
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, rel);
  }
}

async function readRecord(layerDir: string): Promise<WhiteoutRecord | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(layerDir, WHITEOUT_RECORD), 'utf8');
  } catch {
    return undefined;
  }
  const rec = JSON.parse(text) as WhiteoutRecord;
  if (rec.version !== 1 || !Array.isArray(rec.whiteouts) || !Array.isArray(rec.opaqueDirs)) {
    throw invalid(`${path.join(layerDir, WHITEOUT_RECORD)} is not a whiteout record this version understands`);
  }
  return rec;
}

/**
 * Directories of an overlayfs-form layer that carry `trusted.overlay.opaque=y`, layer-relative.
 * One `getfattr -R` per layer (not one process per directory). Without root the trusted namespace
 * is invisible, and a non-root `unpackLayer` never writes it (it uses the record file instead).
 */
function opaqueDirs(layerDir: string): Set<string> {
  const found = new Set<string>();
  if (process.getuid?.() !== 0) return found;
  let out: string;
  try {
    out = execFileSync('getfattr', ['-R', '-P', '-h', '--absolute-names', '-d', '-m', '^trusted\\.overlay\\.opaque$', '--', path.resolve(layerDir)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notSupported('flattening overlayfs-form layers needs getfattr (Debian package attr)');
    throw err;
  }
  const root = path.resolve(layerDir);
  let file: string | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith('# file: ')) file = unescapeGetfattr(line.slice('# file: '.length));
    else if (file !== undefined && line.startsWith('trusted.overlay.opaque=') && line.slice('trusted.overlay.opaque='.length) === '"y"') {
      const rel = path.relative(root, file).split(path.sep).join('/');
      if (rel !== '..' && !rel.startsWith('../')) found.add(rel);
    }
  }
  return found;
}

/** getfattr prints unusual bytes in names as backslash-octal escapes. */
function unescapeGetfattr(s: string): string {
  if (!s.includes('\\')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else if (s[i] === '\\' && s[i + 1] === '\\') {
      bytes.push(0x5c);
      i += 1;
    } else {
      bytes.push(...Buffer.from(s[i], 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch {
    return undefined;
  }
}

function depth(rel: string): number {
  return rel === '' ? 0 : rel.split('/').length;
}
