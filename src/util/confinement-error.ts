// The error of a path a ConfinedDir refuses, in a module of its own: the CLI checks for it (load-manifests)
// without loading ConfinedDir's native libc binding.
import { AegisError } from '../errors/codes.js';

/** A path refused because of where it leads or what it is: AEGIS_INVALID, `<path> <reason>`. */
export class ConfinementError extends AegisError {
  constructor(
    readonly file: string,
    /** Why, without the path: `is outside the watched directory /srv/deploy; not read`. */
    readonly reason: string,
  ) {
    super('AEGIS_INVALID', `${file} ${reason}`);
  }
}
