// The rule that a key acting on keys stays within its own powers (README, "Keys that manage keys"): the target's
// permissions before and after a change are within the calling key's, a key minted or changed by a key
// never expires later than it, and no key lengthens or removes its own expiry. Admin sessions
// (no calling key) act as their user and are bounded by the role ceiling elsewhere.
import { AppError } from "../../errors.ts";
import type { CallingKey } from "./caller.ts";
import { uncoveredGrants, type Permissions } from "./permissions.ts";

/** What the rule needs of a key being changed, rotated or deleted. */
export type TargetKey = { id: string; permissions: Permissions; expiresAt: Date | null };

/** True when `a` ends after `b` (null is never, so later than any time). */
function endsLater(a: Date | null, b: Date | null): boolean {
  if (b === null) return false;
  return a === null || a.getTime() > b.getTime();
}

/**
 * Refuses to update, rotate or delete `target` unless its current permissions are within the calling
 * key's (a ROTATE-only key would otherwise take over a stronger sibling by receiving its new token),
 * and, for update and rotate, unless it expires no later than the calling key (rotating hands out a
 * token that would outlive the caller).
 */
export function assertTargetWithinKey(caller: CallingKey | null, target: TargetKey, action: "update" | "rotate" | "delete"): void {
  if (caller === null) return;
  // Stored against stored: a list of tool names never covers "*", whatever the owner's role is today.
  if (uncoveredGrants(caller.permissions, target.permissions).length > 0) {
    throw new AppError("FORBIDDEN", `A key may only ${action} keys whose permissions are within its own.`);
  }
  if (action !== "delete" && endsLater(target.expiresAt, caller.expiresAt)) {
    throw new AppError(
      "FORBIDDEN",
      target.id === caller.id
        ? `A key may not ${action} itself while it is used through a rotated-out token.`
        : `A key may only ${action} keys that expire no later than it does.`,
    );
  }
}

/**
 * The expiry a key created or changed by `caller` gets. On create an omitted expiry becomes the calling
 * key's own; an explicit one (or "never") later than the calling key's is refused, so a short-lived
 * key cannot mint or stretch a longer-lived one, nor lengthen or remove its own expiry.
 * `undefined` on update means "unchanged".
 */
export function expiryWithinKey(
  caller: CallingKey | null,
  requested: Date | null | undefined,
  options: { action: "create" | "update"; targetId?: string },
): Date | null | undefined {
  if (caller === null) return options.action === "create" ? (requested ?? null) : requested;
  if (requested === undefined) return options.action === "create" ? caller.expiresAt : undefined;
  if (!endsLater(requested, caller.expiresAt)) return requested;
  const until = caller.expiresAt!.toISOString();
  const message =
    options.targetId === caller.id
      ? `A key may not lengthen or remove its own expiry (it expires at ${until}).`
      : `A key may only ${options.action} keys that expire no later than it does (${until}).`;
  throw new AppError("FORBIDDEN", message, { fields: { expires_at: `at most ${until}` } });
}
