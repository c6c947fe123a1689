// Who a machine's command runs as: the spec's `user` wins, else the image's USER; neither means root.
import type { ResolvedImage } from '../images/image-store.js';

/** `{ user }` to spread into an exec request or plan, or nothing when the command runs as root by default. */
export function runAsUser(specUser: string | undefined, image: ResolvedImage | undefined): { user?: string } {
  const user = specUser ?? image?.config.user;
  return user ? { user } : {};
}
