// Finds a virtio-console port by the name the host gave it (a VM's control channel): the kernel lists each
// port under /sys/class/virtio-ports/<dev>/name, and the device is /dev/<dev>.
import fs from 'node:fs';
import path from 'node:path';

const PORTS = '/sys/class/virtio-ports';
/** Ports are probed before init runs; a short wait covers a driver that binds late. */
const WAIT_MS = 5_000;
const POLL_MS = 20;

function lookup(name: string): string | undefined {
  let devs: string[];
  try {
    devs = fs.readdirSync(PORTS);
  } catch {
    return undefined;
  }
  const dev = devs.find((d) => {
    try {
      return fs.readFileSync(path.join(PORTS, d, 'name'), 'utf8').trim() === name;
    } catch {
      return false;
    }
  });
  return dev ? path.join('/dev', dev) : undefined;
}

export async function findVirtioPort(name: string): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const found = lookup(name);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no virtio-console port named ${name} in ${PORTS}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
