// Where a machine's setup finds what its guest is built from: the image layers, the /dev template, the
// runtime, the workspace, and the machine's writable disk. The disk is mounted by the daemon (detached)
// and attached by the setup. With a user namespace, the host directories are shown through an idmapped
// mount, so that the files there owned by root (id 0 on disk) belong to guest root (the range's first
// host id): one idmapped copy of the data directory serves them all, plus one per directory elsewhere.
import fs from 'node:fs';
import path from 'node:path';
import { cloneDirectory, daemonFdPath, MOUNT_ATTR, mountDiskImage } from './detached-mounts.js';
import type { MachineDirs } from './machine-state.js';

export interface GuestSources {
  /** The read-only layers as the setup names them, lowest first. */
  layers: string[];
  devTemplate: string;
  runtime: string;
  workspace?: string;
  /** Detached mounts the setup attaches before anything else: [source, target] pairs. */
  moves: [string, string][];
  /** The fds behind `moves`: the daemon holds them until the machine has booted (see SandboxMachine). */
  fds: number[];
}

export interface GuestSourceInput {
  dirs: MachineDirs;
  /** $AEGIS_HOME/data: layers, base rootfs, /dev template, runtime and workspaces normally live below it. */
  dataDir: string;
  layers: string[];
  devTemplate: string;
  runtime: string;
  workspace?: string;
  disk: string;
  /** A user namespace whose maps shape the idmapped mounts (id-ranges.ts mountIdMaps); none: host ids. */
  idmapUserns?: number;
}

/** Mounts the machine's disk (attached by the setup at dirs.layer) and, with an idmap, the host directories. */
export function prepareGuestSources(input: GuestSourceInput): GuestSources {
  const fds: number[] = [];
  try {
    const idmap = input.idmapUserns === undefined ? {} : { idmapUserns: input.idmapUserns };
    const disk = mountDiskImage(input.disk, prepareDisk, idmap);
    fds.push(disk);
    const moves: [string, string][] = [[daemonFdPath(disk), input.dirs.layer]];
    if (input.idmapUserns === undefined) {
      return { layers: input.layers, devTemplate: input.devTemplate, runtime: input.runtime, ...(input.workspace ? { workspace: input.workspace } : {}), moves, fds };
    }
    const clones = new Map<string, string>(); // host directory cloned → where the setup attaches it
    const seen = (dir: string): string => {
      // A missing layer fails the overlay mount in the setup, which explains itself on the console.
      if (!fs.existsSync(dir)) return dir;
      const root = isOnSameMountBelow(dir, input.dataDir) ? input.dataDir : dir;
      let target = clones.get(root);
      if (target === undefined) {
        const fd = cloneDirectory(root, { attrs: MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV, ...idmap });
        fds.push(fd);
        target = path.join(input.dirs.dir, `idmapped-${clones.size}`);
        fs.mkdirSync(target, { recursive: true, mode: 0o700 });
        clones.set(root, target);
        moves.push([daemonFdPath(fd), target]);
      }
      return path.join(target, path.relative(root, dir));
    };
    return {
      layers: input.layers.map(seen),
      devTemplate: seen(input.devTemplate),
      runtime: seen(input.runtime),
      ...(input.workspace ? { workspace: seen(input.workspace) } : {}),
      moves,
      fds,
    };
  } catch (err) {
    for (const fd of fds) fs.closeSync(fd);
    throw err;
  }
}

/**
 * The disk's layout: upper/ and work/ hold the rootfs changes (kept), dev-upper/ and dev-work/ those of
 * /dev (empty at every boot). 0755: they give the guest's / and /dev their modes. Made as host root, so
 * they belong to on-disk id 0: guest root.
 */
function prepareDisk(root: string): void {
  for (const d of ['dev-upper', 'dev-work']) fs.rmSync(path.join(root, d), { recursive: true, force: true });
  for (const d of ['upper', 'work', 'dev-upper', 'dev-work']) {
    const dir = path.join(root, d);
    fs.mkdirSync(dir, { recursive: true });
    fs.chmodSync(dir, 0o755);
  }
}

/** Whether `dir` is `parent` or below it, on the very mount `parent` is on (a clone of `parent` then shows it). */
function isOnSameMountBelow(dir: string, parent: string): boolean {
  const rel = path.relative(parent, dir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return false;
  return mountId(dir) === mountId(parent);
}

const O_PATH = 0o10000000;

function mountId(dir: string): number | undefined {
  let fd: number;
  try {
    fd = fs.openSync(dir, O_PATH);
  } catch {
    return undefined;
  }
  try {
    const m = /^mnt_id:\s*(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } finally {
    fs.closeSync(fd);
  }
}
