// Whether a resolved path lies in a directory: the one containment test of the file trees.

/** Whether `resolved` (an absolute, resolved path) is `dir` or inside it. */
export function isInside(resolved: string, dir: string): boolean {
  return resolved === dir || resolved.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}
