// The minimal /dev every sandbox machine gets, built once as a directory of device nodes and copied in.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { buildOnce } from '../build-once.js';

const NODES: [string, number, number][] = [
  ['null', 1, 3],
  ['zero', 1, 5],
  ['full', 1, 7],
  ['random', 1, 8],
  ['urandom', 1, 9],
  ['tty', 5, 0],
];

const LINKS: [string, string][] = [
  ['fd', '/proc/self/fd'],
  ['stdin', '/proc/self/fd/0'],
  ['stdout', '/proc/self/fd/1'],
  ['stderr', '/proc/self/fd/2'],
  ['ptmx', 'pts/ptmx'],
];

export function ensureDevTemplate(parent: string): Promise<string> {
  return buildOnce(path.join(parent, 'dev-template'), (tmp) => {
    for (const [name, major, minor] of NODES) execFileSync('mknod', ['-m', '666', path.join(tmp, name), 'c', String(major), String(minor)]);
    for (const [name, target] of LINKS) fs.symlinkSync(target, path.join(tmp, name));
    fs.mkdirSync(path.join(tmp, 'pts'));
    fs.mkdirSync(path.join(tmp, 'shm'));
  });
}
