// Which kernel modules to load, in which order: read from the modules' own `depends=` tags, because a
// kernel package unpacked with dpkg-deb has no modules.dep (depmod runs only on installation).
import fs from 'node:fs';
import path from 'node:path';

export interface ModuleFile {
  name: string;
  /** Path of the .ko file. */
  file: string;
}

/** Module name as the kernel spells it (`-` and `_` are the same). */
const norm = (name: string) => name.replace(/-/g, '_');

/** Every .ko under `moduleDir` (lib/modules/<release>), by normalised module name. */
export function indexModules(moduleDir: string): Map<string, string> {
  const index = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko')) index.set(norm(e.name.slice(0, -3)), p);
    }
  };
  walk(path.join(moduleDir, 'kernel'));
  return index;
}

/** Names listed in modules.builtin: compiled into the kernel, nothing to load. */
export function builtinModules(moduleDir: string): Set<string> {
  const text = fs.readFileSync(path.join(moduleDir, 'modules.builtin'), 'utf8');
  return new Set(text.split('\n').filter(Boolean).map((l) => norm(path.basename(l, '.ko'))));
}

/** The `depends=` entry of a module's .modinfo section (NUL-separated key=value strings). */
export function moduleDepends(koFile: string): string[] {
  const bytes = fs.readFileSync(koFile);
  const at = bytes.indexOf('\0depends=');
  if (at < 0) return [];
  const start = at + '\0depends='.length;
  const value = bytes.subarray(start, bytes.indexOf(0, start)).toString('utf8');
  return value.split(',').filter(Boolean).map(norm);
}

/**
 * The modules to insmod for `wanted`, dependencies before dependents, wanted order kept otherwise.
 * Built-in ones are skipped; a module that is neither built in nor shipped is an error.
 */
export function resolveModules(moduleDir: string, wanted: string[]): ModuleFile[] {
  const index = indexModules(moduleDir);
  const builtin = builtinModules(moduleDir);
  const order: ModuleFile[] = [];
  const seen = new Set<string>();
  const visit = (raw: string, chain: string[]) => {
    const name = norm(raw);
    if (seen.has(name) || builtin.has(name)) return;
    if (chain.includes(name)) throw new Error(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    const file = index.get(name);
    if (!file) throw new Error(`kernel module ${name} is neither built in nor shipped in ${moduleDir}`);
    for (const dep of moduleDepends(file)) visit(dep, [...chain, name]);
    seen.add(name);
    order.push({ name, file });
  };
  for (const w of wanted) visit(w, []);
  return order;
}
