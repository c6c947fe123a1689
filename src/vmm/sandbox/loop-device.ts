// A disk image on a free loop device, the way `mount -o loop` does it: the device clears itself once the
// last user (the filesystem mounted from it) lets go, so nothing needs detaching when the machine ends.
import fs from 'node:fs';
import path from 'node:path';
import { conflict } from '../../errors/codes.js';
import { check, ioctl, lastError } from '../../util/libc.js';

const LOOP_CTL_GET_FREE = 0x4c82;
const LOOP_CONFIGURE = 0x4c0a;
const LO_FLAGS_AUTOCLEAR = 4;
/** struct loop_config: fd, block_size, struct loop_info64 (232 bytes), 8 reserved u64s. */
const LOOP_CONFIG_SIZE = 304;
const LO_FLAGS_OFFSET = 8 + 52;
const LO_FILE_NAME_OFFSET = 8 + 56;
const LO_NAME_SIZE = 64;
/** Another process may take the device LOOP_CTL_GET_FREE named before we configure it. */
const ATTEMPTS = 5;

/**
 * Attaches `image` to a free loop device with autoclear and returns the device's path (e.g. /dev/loop3).
 * The device stays only while something holds it open: the caller must mount it (or open it) before
 * closing the fd it gets back.
 */
export function attachLoopDevice(image: string): { device: string; fd: number } {
  const real = fs.realpathSync(image);
  const user = loopDeviceOf(real);
  // Two ext4 mounts of one image through two devices would corrupt it (mount(8) refuses this too).
  if (user) throw conflict(`${image} is already attached to ${user}: is another machine using this disk?`);
  const imageFd = fs.openSync(real, fs.constants.O_RDWR);
  const control = fs.openSync('/dev/loop-control', fs.constants.O_RDWR);
  try {
    const config = Buffer.alloc(LOOP_CONFIG_SIZE);
    config.writeUInt32LE(imageFd, 0);
    config.writeUInt32LE(LO_FLAGS_AUTOCLEAR, LO_FLAGS_OFFSET);
    // Shown by losetup and /sys/block/loopN/loop/backing_file, which the overlap check above reads.
    config.write(real.slice(-(LO_NAME_SIZE - 1)), LO_FILE_NAME_OFFSET, LO_NAME_SIZE - 1);
    for (let attempt = 1; ; attempt++) {
      const n = ioctl(control, LOOP_CTL_GET_FREE);
      check(n, 'ioctl(LOOP_CTL_GET_FREE)', '/dev/loop-control');
      const device = `/dev/loop${n}`;
      const fd = fs.openSync(device, fs.constants.O_RDWR);
      if (ioctl(fd, LOOP_CONFIGURE, config) === 0) return { device, fd };
      const err = lastError('ioctl(LOOP_CONFIGURE)', device);
      fs.closeSync(fd);
      if (err.code !== 'EBUSY' || attempt === ATTEMPTS) throw err;
    }
  } finally {
    fs.closeSync(control);
    fs.closeSync(imageFd);
  }
}

/** The loop device (e.g. /dev/loop3) whose backing file is `file`, if any. */
export function loopDeviceOf(file: string): string | undefined {
  let names: string[];
  try {
    names = fs.readdirSync('/sys/block').filter((n) => n.startsWith('loop'));
  } catch {
    return undefined;
  }
  for (const name of names) {
    try {
      const backing = fs.readFileSync(path.join('/sys/block', name, 'loop', 'backing_file'), 'utf8').trim();
      if (backing === file) return `/dev/${name}`;
    } catch {
      /* not attached */
    }
  }
  return undefined;
}
