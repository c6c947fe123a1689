// The directory a libkrun machine's root is built on: its image's layers flattened into one tree (overlayfs
// then stacks only the machine's writable layer on it), built once per set of layers under
// $AEGIS_HOME/data/libkrun/rootfs and shared read-only by every machine of that image (that release).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { flattenLayers } from '../../images/layers/flatten-layers.js';
import { WHITEOUT_RECORD } from '../../images/layers/unpack-layer.js';
import { buildOnce, removeStaleBuilds } from '../build-once.js';

const TREE = 'tree';
const LAYERS_FILE = 'layers.json';

export const libkrunRootfsDir = (dataDir: string) => path.join(dataDir, 'libkrun', 'rootfs');

/** The tree for `layers` (lowest first): a lone plain directory (the base rootfs) is used as it is. */
export async function rootfsTree(dataDir: string, layers: string[]): Promise<string> {
  if (layers.length === 1 && !fs.existsSync(path.join(layers[0], WHITEOUT_RECORD))) return layers[0];
  const key = crypto.createHash('sha256').update(JSON.stringify(layers.map((l) => path.resolve(l)))).digest('hex').slice(0, 16);
  const dir = await buildOnce(path.join(libkrunRootfsDir(dataDir), key), async (tmp) => {
    await flattenLayers(layers, path.join(tmp, TREE));
    fs.writeFileSync(path.join(tmp, LAYERS_FILE), JSON.stringify(layers, null, 2) + '\n');
  });
  return path.join(dir, TREE);
}

/** Deletes trees whose layers are gone (image rm or prune) and builds that died half-way; returns the removed keys. */
export function removeOrphanTrees(dataDir: string): string[] {
  const root = libkrunRootfsDir(dataDir);
  removeStaleBuilds(root);
  const removed: string[] = [];
  for (const key of fs.existsSync(root) ? fs.readdirSync(root) : []) {
    let layers: string[];
    try {
      layers = JSON.parse(fs.readFileSync(path.join(root, key, LAYERS_FILE), 'utf8')) as string[];
    } catch {
      continue; // not finished by this code: leave it
    }
    if (layers.every((l) => fs.existsSync(l))) continue;
    fs.rmSync(path.join(root, key), { recursive: true, force: true });
    removed.push(key);
  }
  return removed;
}
