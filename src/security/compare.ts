// Comparing secrets without the timing telling anything about them.
import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Whether two secrets are equal, in constant time: both are hashed first, so neither their lengths nor
 * where they first differ shows in the time taken.
 */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}
