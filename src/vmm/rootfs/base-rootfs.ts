// The default rootfs when no image is given: Debian's busybox-static with an applet link per command.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { AegisPaths } from '../../config/paths.js';
import { unavailable } from '../../errors/codes.js';
import { buildOnce } from '../build-once.js';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

const FILES: Record<string, string> = {
  'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  'etc/group': 'root:x:0:\nnogroup:x:65534:\n',
  'etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  // The guest has no network by default; a resolver line keeps tools that read it from failing to parse.
  'etc/resolv.conf': 'nameserver 127.0.0.1\n',
  'etc/os-release': 'NAME="Aegis base"\nID=aegis-base\nPRETTY_NAME="Aegis base rootfs (busybox)"\n',
};

const DIRS = ['proc', 'dev', 'sys', 'tmp', 'run', 'var', 'workspace', 'root', '.aegis', '.aegis-control', 'etc', 'bin', 'sbin', 'usr/bin', 'usr/sbin'];

export async function ensureBaseRootfs(paths: AegisPaths): Promise<string> {
  const busybox = BUSYBOX_CANDIDATES.find((p) => fs.existsSync(p));
  if (!busybox) throw unavailable('busybox is not installed, so the base rootfs cannot be built: apt-get install busybox-static');
  const bytes = fs.readFileSync(busybox);
  const key = crypto.createHash('sha256').update(bytes).update(JSON.stringify(FILES)).digest('hex').slice(0, 16);
  return buildOnce(path.join(paths.rootfs, `base-${key}`), (tmp) => {
    for (const d of DIRS) fs.mkdirSync(path.join(tmp, d), { recursive: true });
    fs.chmodSync(path.join(tmp, 'tmp'), 0o1777);
    fs.chmodSync(path.join(tmp, 'root'), 0o700);
    fs.writeFileSync(path.join(tmp, 'bin', 'busybox'), bytes, { mode: 0o755 });
    const applets = execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const applet of applets) {
      const link = path.join(tmp, applet);
      if (fs.existsSync(link)) continue;
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync('/bin/busybox', link);
    }
    for (const [file, content] of Object.entries(FILES)) fs.writeFileSync(path.join(tmp, file), content, { mode: 0o644 });
  });
}
