// Unpacks one OCI layer tar into a new directory that can serve as an overlayfs lower dir, refusing any entry that would write outside it.
import { randomBytes } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { AegisError, conflict, invalid, isAegisError, tooLarge } from '../../errors/codes.js';
import { formatByteSize } from '../../resources/byte-size.js';
import { LayerDecoder } from './layer-media.js';
import { mkfifo, mknodWhiteout, setxattr } from '../../util/libc.js';
import { renameIntoPlace } from './rename-into-place.js';

export interface UnpackStats {
  /** Regular-file entries (hardlinks are counted apart). */
  files: number;
  /** Directory entries; parents created implicitly for other entries are not counted. */
  dirs: number;
  symlinks: number;
  hardlinks: number;
  /** `.wh.<name>` entries plus opaque-directory markers. */
  whiteouts: number;
  /** Bytes of regular-file content written. */
  bytes: number;
  fifos: number;
  /** Character and block devices, never created (see `unpackLayer`). */
  devicesSkipped: number;
}

export interface UnpackOptions {
  /** The layer descriptor's media type; absent or unknown means "sniff the magic bytes". */
  mediaType?: string;
  /** Keep ownership and setuid/setgid bits and write whiteouts in overlayfs form. Default: running as uid 0. */
  asRoot?: boolean;
  /** How much one layer may unpack to; past either the layer is refused (a decompression bomb). Default: none. */
  limits?: LayerLimits;
}

export interface LayerLimits {
  /** Bytes of regular-file content (`limits.layer`). */
  maxBytes: number;
  /** Tar entries of any kind (`limits.layerEntries`). */
  maxEntries: number;
}

/** Where a non-root unpack records whiteouts, at the layer root (see `WhiteoutRecord`). */
export const WHITEOUT_RECORD = '.aegis-whiteouts.json';

/** The content of `WHITEOUT_RECORD`: layer-relative paths, `/`-separated, no leading slash. */
export interface WhiteoutRecord {
  version: 1;
  /** Paths hidden from lower layers. */
  whiteouts: string[];
  /** Directories whose lower-layer content is hidden. */
  opaqueDirs: string[];
}

/** This process's umask, read once (process.umask() without an argument is deprecated). */
const UMASK = (() => {
  const m = /^Umask:\s*([0-7]+)$/m.exec(fsSync.readFileSync('/proc/self/status', 'utf8'));
  return m ? parseInt(m[1]!, 8) : 0o022;
})();

const WH_PREFIX = '.wh.';
const WH_OPAQUE = '.wh..wh..opq';

/** One entry of the tar stream (tar-stream's `Source`, which it does not export by name). */
type Entry = tar.ExtractEvents['entry'][1];

type Kind = 'dir' | 'file' | 'symlink' | 'other';

interface DirMeta {
  mode: number;
  mtime: Date | undefined;
  uid: number | undefined;
  gid: number | undefined;
}

/**
 * Unpacks `input` (a layer blob, compressed or not) into `destDir`, which must not exist yet.
 * Work happens in `destDir.tmp-<random>` and is renamed into place on success; on any error that
 * temp dir is removed, so nothing half-written remains.
 *
 * Safety: every entry path is normalized relative to the layer root; an entry whose `..`
 * components (absolute or not) climb above the root is refused, as is an entry whose parent
 * path goes through a symlink or non-directory created earlier in the same layer, and a
 * hardlink whose target is outside the layer or not a regular file extracted earlier. Since the
 * temp dir is new, every path in it was created here, so a map of what was created is the whole
 * truth about it; existing paths are removed (never opened) before being replaced, and files are
 * created with O_EXCL, so no write follows a symlink. Symlink targets are stored as-is: they are
 * only ever resolved inside the guest's root.
 *
 * Whiteouts are not materialized as `.wh.` files. With `asRoot` they take overlayfs form so the
 * directory can be a lower dir directly: a whiteout is a character device 0/0 (made with the
 * libc's mknod) and an opaque directory carries the xattr `trusted.overlay.opaque=y`. Without root
 * neither is possible, so they are recorded in
 * `WHITEOUT_RECORD` at the layer root; `flattenLayers` honours that record.
 *
 * Character and block devices are skipped and counted even as root: guests get their device nodes
 * from devtmpfs, not from image layers. Fifos are created.
 *
 * With `limits`, a layer whose file content passes maxBytes or whose entries pass maxEntries is refused
 * (AEGIS_TOO_LARGE) as soon as it does, while streaming: a small compressed blob cannot fill the disk.
 */
export async function unpackLayer(input: Readable, destDir: string, opts: UnpackOptions = {}): Promise<UnpackStats> {
  const asRoot = opts.asRoot ?? process.getuid?.() === 0;
  if (await exists(destDir)) throw conflict(`layer directory ${destDir} already exists`);
  await fs.mkdir(path.dirname(destDir), { recursive: true });
  const tmp = `${destDir}.tmp-${randomBytes(6).toString('hex')}`;
  await fs.mkdir(tmp, { mode: 0o755 });
  try {
    const unpacker = new LayerUnpacker(tmp, asRoot, opts.limits);
    const stats = await unpacker.run(input, opts.mediaType);
    await renameIntoPlace(tmp, destDir, 'layer directory');
    return stats;
  } catch (err) {
    input.destroy();
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Resolves a tar path against the layer root: `a/b` form, '' for the root itself, undefined when it climbs above the root. */
export function normalizeEntryPath(name: string): string | undefined {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join('/');
}

class LayerUnpacker {
  readonly stats: UnpackStats = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, whiteouts: 0, bytes: 0, fifos: 0, devicesSkipped: 0 };
  /** Everything created in this layer, by normalized path; '' is the root. */
  private readonly kinds = new Map<string, Kind>([['', 'dir']]);
  private readonly dirMeta = new Map<string, DirMeta>();
  private readonly record: WhiteoutRecord = { version: 1, whiteouts: [], opaqueDirs: [] };
  private readonly uid = process.getuid?.();
  private readonly gid = process.getgid?.();
  private entries = 0;

  constructor(
    private readonly root: string,
    private readonly asRoot: boolean,
    private readonly limits: LayerLimits | undefined,
  ) {}

  async run(input: Readable, mediaType: string | undefined): Promise<UnpackStats> {
    const extract = tar.extract();
    const piping = pipeline(input, new LayerDecoder(mediaType), extract);
    // When an entry is refused the loop below throws first; the pipeline's own rejection then only repeats it.
    piping.catch(() => {});
    try {
      for await (const entry of extract) {
        await this.entry(entry);
      }
      await piping;
    } catch (err) {
      extract.destroy();
      if (isAegisError(err)) throw err;
      // What is left came through the pipeline: the input, the decoder or the tar parser failed.
      const msg = err instanceof Error ? err.message : String(err);
      throw invalid(`reading the layer failed (not a valid tar stream, or the input broke off): ${msg}`);
    }
    if (!this.asRoot && (this.record.whiteouts.length > 0 || this.record.opaqueDirs.length > 0)) {
      fsSync.writeFileSync(path.join(this.root, WHITEOUT_RECORD), JSON.stringify(this.record, null, 2) + '\n', { flag: 'wx', mode: 0o644 });
    }
    this.applyDirMeta();
    return this.stats;
  }

  private async entry(entry: Entry): Promise<void> {
    const h = entry.header;
    const name = h.name;
    try {
      if (this.limits && ++this.entries > this.limits.maxEntries) throw tooLarge(`has more than ${this.limits.maxEntries} entries (limits.layerEntries)`);
      const rel = normalizeEntryPath(name);
      if (rel === undefined) throw invalid(`layer entry ${q(name)} escapes the layer root`);
      if (name.includes('\0')) throw invalid(`layer entry ${q(name)} has a NUL byte in its name`);
      if (rel === WHITEOUT_RECORD) throw invalid(`layer entry ${q(name)} uses a name Aegis reserves for its whiteout record`);
      if (h.type === 'file' || h.type === 'contiguous-file') {
        await this.file(entry, rel, name);
        return;
      }
      entry.resume();
      await this.nonFile(h, rel, name);
    } catch (err) {
      entry.destroy();
      if (isAegisError(err)) throw err;
      const msg = err instanceof Error ? err.message : String(err);
      throw new AegisError('AEGIS_INTERNAL', `unpacking layer entry ${q(name)} failed: ${msg}`);
    }
  }

  private async nonFile(h: tar.Header, rel: string, name: string): Promise<void> {
    const base = path.posix.basename(rel);
    if (base.startsWith(WH_PREFIX)) return this.whiteout(rel, name);
    if (rel === '' && h.type !== 'directory') throw invalid(`layer entry ${q(name)} is a ${h.type} at the layer root`);
    switch (h.type) {
      case 'directory':
        return this.dir(h, rel, name);
      case 'symlink':
        return this.symlink(h, rel, name);
      case 'link':
        return this.hardlink(h, rel, name);
      case 'fifo':
        return this.fifo(h, rel, name);
      case 'character-device':
      case 'block-device':
        this.stats.devicesSkipped++;
        return;
      default:
        // pax and GNU long-name headers are consumed by tar-stream; anything else has no meaning in a rootfs.
        return;
    }
  }

  /** Makes sure every parent of `rel` is a directory created in this layer, creating missing ones; refuses symlinks and files on the way. */
  private async parents(rel: string, name: string): Promise<void> {
    const parts = rel.split('/');
    let prefix = '';
    for (let i = 0; i < parts.length - 1; i++) {
      prefix = prefix ? `${prefix}/${parts[i]}` : parts[i];
      const kind = this.kinds.get(prefix);
      if (kind === 'dir') continue;
      if (kind === 'symlink') throw invalid(`layer entry ${q(name)} goes through the symlink ${q(prefix)}`);
      if (kind !== undefined) throw invalid(`layer entry ${q(name)} goes through ${q(prefix)}, which is not a directory`);
      fsSync.mkdirSync(this.abs(prefix), { mode: 0o755 });
      this.kinds.set(prefix, 'dir');
    }
  }

  /** Removes whatever this layer created at `rel` (never following a symlink) so a new entry can take its place. */
  private async clear(rel: string, keepDir: boolean): Promise<void> {
    const kind = this.kinds.get(rel);
    if (kind === undefined) return;
    if (kind === 'dir' && keepDir) return;
    fsSync.rmSync(this.abs(rel), { recursive: true, force: true });
    this.kinds.delete(rel);
    if (kind === 'dir') {
      const prefix = `${rel}/`;
      for (const k of [...this.kinds.keys()]) if (k.startsWith(prefix)) this.kinds.delete(k);
      for (const k of [...this.dirMeta.keys()]) if (k === rel || k.startsWith(prefix)) this.dirMeta.delete(k);
    }
  }

  private async file(entry: Entry, rel: string, name: string): Promise<void> {
    const h = entry.header;
    if (rel === '') throw invalid(`layer entry ${q(name)} is a file at the layer root`);
    if (path.posix.basename(rel).startsWith(WH_PREFIX)) {
      entry.resume();
      return this.whiteout(rel, name);
    }
    // Refused on the header's size before anything is written; the chunks are counted too, as they are what is written.
    this.countBytes(h.size ?? 0);
    await this.parents(rel, name);
    await this.clear(rel, false);
    const target = this.abs(rel);
    // 'wx' is O_CREAT|O_EXCL: it never opens an existing path, symlink or not.
    // Synchronous calls on purpose: one thread-pool round trip per syscall made unpacking several
    // times slower than `tar -x`; each call is short and the loop still yields between chunks.
    const mode = this.mode(h.mode, 0o644);
    const fd = fsSync.openSync(target, 'wx', mode & 0o777);
    this.kinds.set(rel, 'file');
    try {
      for await (const chunk of entry) {
        const buf = chunk as Buffer;
        this.countBytes(buf.length);
        let off = 0;
        while (off < buf.length) off += fsSync.writeSync(fd, buf, off, buf.length - off);
        this.stats.bytes += buf.length;
      }
      if (this.chownNeeded(h)) fsSync.fchownSync(fd, h.uid!, h.gid!);
      // open() created it with mode & ~umask: fix that up only when the umask or special bits were in the way.
      if ((mode & ~UMASK) !== mode || mode & 0o7000) fsSync.fchmodSync(fd, mode);
      if (h.mtime) fsSync.futimesSync(fd, h.mtime, h.mtime);
    } finally {
      fsSync.closeSync(fd);
    }
    this.stats.files++;
  }

  /** Refuses the layer when `more` bytes of file content would take it past limits.layer. */
  private countBytes(more: number): void {
    if (this.limits && this.stats.bytes + more > this.limits.maxBytes) throw tooLarge(`unpacks to more than ${formatByteSize(this.limits.maxBytes)} (limits.layer)`);
  }

  private async dir(h: tar.Header, rel: string, name: string): Promise<void> {
    if (rel !== '') {
      await this.parents(rel, name);
      await this.clear(rel, true);
      if (this.kinds.get(rel) !== 'dir') {
        fsSync.mkdirSync(this.abs(rel), { mode: 0o755 });
        this.kinds.set(rel, 'dir');
      }
      this.stats.dirs++;
    }
    // Applied at the end, deepest first: a read-only dir must stay writable while its children arrive, and children bump its mtime.
    this.dirMeta.set(rel, { mode: this.mode(h.mode, 0o755), mtime: h.mtime, uid: h.uid, gid: h.gid });
  }

  private async symlink(h: tar.Header, rel: string, name: string): Promise<void> {
    if (!h.linkname) throw invalid(`layer entry ${q(name)} is a symlink without a target`);
    await this.parents(rel, name);
    await this.clear(rel, false);
    const target = this.abs(rel);
    fsSync.symlinkSync(h.linkname, target);
    this.kinds.set(rel, 'symlink');
    if (this.chownNeeded(h)) fsSync.lchownSync(target, h.uid!, h.gid!);
    if (h.mtime) fsSync.lutimesSync(target, h.mtime, h.mtime);
    this.stats.symlinks++;
  }

  private async hardlink(h: tar.Header, rel: string, name: string): Promise<void> {
    const linkname = h.linkname ?? '';
    const targetRel = normalizeEntryPath(linkname);
    if (targetRel === undefined || targetRel === '') throw invalid(`layer entry ${q(name)} is a hardlink to ${q(linkname)}, outside the layer`);
    if (this.kinds.get(targetRel) !== 'file') {
      throw invalid(`layer entry ${q(name)} is a hardlink to ${q(linkname)}, which is not a regular file earlier in the layer`);
    }
    await this.parents(rel, name);
    if (targetRel === rel) return;
    await this.clear(rel, false);
    fsSync.linkSync(this.abs(targetRel), this.abs(rel));
    this.kinds.set(rel, 'file');
    this.stats.hardlinks++;
  }

  private async fifo(h: tar.Header, rel: string, name: string): Promise<void> {
    await this.parents(rel, name);
    await this.clear(rel, false);
    const target = this.abs(rel);
    mkfifo(target, this.mode(h.mode, 0o644) & 0o777);
    fsSync.chmodSync(target, this.mode(h.mode, 0o644) & 0o777); // mkfifo's mode went through the umask
    this.kinds.set(rel, 'other');
    if (this.chownNeeded(h)) fsSync.lchownSync(target, h.uid!, h.gid!);
    if (h.mtime) fsSync.lutimesSync(target, h.mtime, h.mtime);
    this.stats.fifos++;
  }

  private async whiteout(rel: string, name: string): Promise<void> {
    const dir = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel);
    const base = path.posix.basename(rel);
    await this.parents(rel, name);
    if (base === WH_OPAQUE) {
      this.stats.whiteouts++;
      if (!this.asRoot) {
        this.record.opaqueDirs.push(dir);
        return;
      }
      setxattr(this.abs(dir), 'trusted.overlay.opaque', 'y');
      return;
    }
    const hidden = base.slice(WH_PREFIX.length);
    // `.wh..wh.*` other than the opaque marker are AUFS bookkeeping (e.g. `.wh..wh.plnk`): meaningless here.
    if (hidden.startsWith(WH_PREFIX) || hidden === '') return;
    if (hidden === '.' || hidden === '..') throw invalid(`layer entry ${q(name)} is a whiteout of ${q(hidden)}`);
    const hiddenRel = dir ? `${dir}/${hidden}` : hidden;
    this.stats.whiteouts++;
    if (!this.asRoot) {
      this.record.whiteouts.push(hiddenRel);
      return;
    }
    await this.clear(hiddenRel, false);
    mknodWhiteout(this.abs(hiddenRel));
    this.kinds.set(hiddenRel, 'other');
  }

  private applyDirMeta(): void {
    const dirs = [...this.dirMeta.entries()].sort((a, b) => depth(b[0]) - depth(a[0]));
    for (const [rel, meta] of dirs) {
      const target = this.abs(rel);
      if (this.chownNeeded(meta)) fsSync.lchownSync(target, meta.uid!, meta.gid!);
      fsSync.chmodSync(target, meta.mode);
      if (meta.mtime) fsSync.utimesSync(target, meta.mtime, meta.mtime);
    }
  }

  /** As root, whether an entry's owner differs from ours (what we create is ours already: most image files are root's). */
  private chownNeeded(h: { uid?: number | undefined; gid?: number | undefined }): boolean {
    return this.asRoot && h.uid != null && h.gid != null && (h.uid !== this.uid || h.gid !== this.gid);
  }

  /** The mode to keep: permission, sticky and (as root only) setuid/setgid bits. */
  private mode(mode: number | undefined, fallback: number): number {
    const m = (mode ?? fallback) & 0o7777;
    return this.asRoot ? m : m & ~0o6000;
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, rel);
  }
}

/** Quotes a name for a one-line message: control characters and quotes come out escaped. */
const q = (s: string) => JSON.stringify(s);

function depth(rel: string): number {
  return rel === '' ? 0 : rel.split('/').length;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}
