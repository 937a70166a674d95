// The key rule as pure functions: a calling key's stored permissions and expiry bound every key it
// creates, changes, rotates or deletes; admin sessions (no calling key) are not bound by it.
import { describe, expect, test } from "bun:test";
import type { CallingKey } from "../../src/domain/access/caller.ts";
import { assertTargetWithinKey, expiryWithinKey } from "../../src/domain/access/key-policy.ts";
import { uncoveredGrants } from "../../src/domain/access/permissions.ts";
import { AppError } from "../../src/errors.ts";

const CONN = "conn_00000000-0000-4000-8000-000000000001";
const AGENT = "agent_00000000-0000-4000-8000-000000000002";
const T0 = new Date("2030-01-01T00:00:00.000Z");
const later = (ms: number) => new Date(T0.getTime() + ms);

function caller(permissions: CallingKey["permissions"], expiresAt: Date | null = null): CallingKey {
  return { kind: "api_key", id: "key_caller", permissions, expiresAt, audience: null };
}

/** The AppError `run` throws as {code, message}, or null when it passes. */
function refusal(run: () => unknown): { code: string; message: string } | null {
  try {
    run();
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return { code: err.code, message: err.message };
  }
  return null;
}

describe("uncoveredGrants", () => {
  const cases: [string, Record<string, string[]>, Record<string, string[]>, string[]][] = [
    ["equal", { self: ["*"] }, { self: ["*"] }, []],
    ["a list never covers *", { self: ["WHOAMI", "API_KEY_LIST"] }, { self: ["*"] }, ['self: "*"']],
    ["a narrower list", { self: ["WHOAMI", "API_KEY_LIST"] }, { self: ["WHOAMI"] }, []],
    ["any connection covers a connection's tools", { "*": ["echo"] }, { [CONN]: ["echo"] }, []],
    ["any connection's tool does not cover all of a connection", { "*": ["echo"] }, { [CONN]: ["*"] }, [`${CONN}: "*"`]],
    ["everything everywhere covers an agent", { "*": ["*"] }, { [AGENT]: ["*"] }, []],
    ["nothing covers anything", {}, { self: ["WHOAMI"], "*": ["*"] }, ['self: "WHOAMI"', '*: "*"']],
    ["anything covers nothing", {}, {}, []],
  ];
  for (const [name, holder, p, expected] of cases) test(name, () => expect(uncoveredGrants(holder, p)).toEqual(expected));
});

describe("assertTargetWithinKey", () => {
  const target = (permissions: Record<string, string[]>, expiresAt: Date | null = null) => ({ id: "key_target", permissions, expiresAt });

  test("an admin session (no calling key) is not bound", () => {
    for (const action of ["update", "rotate", "delete"] as const) expect(refusal(() => assertTargetWithinKey(null, target({ self: ["*"], "*": ["*"] }), action))).toBeNull();
  });

  test("a target holding more than the caller is refused for every action, naming the rule", () => {
    for (const action of ["update", "rotate", "delete"] as const) {
      expect(refusal(() => assertTargetWithinKey(caller({ self: [`API_KEY_${action.toUpperCase()}`] }), target({ self: ["*"] }), action))).toEqual({
        code: "FORBIDDEN",
        message: `A key may only ${action} keys whose permissions are within its own.`,
      });
    }
  });

  test("a target that outlives the caller is refused for update and rotate, not for delete", () => {
    const short = caller({ self: ["*"] }, later(1000));
    for (const expiresAt of [null, later(1001)]) {
      expect(refusal(() => assertTargetWithinKey(short, target({}, expiresAt), "rotate"))?.message).toBe("A key may only rotate keys that expire no later than it does.");
      expect(refusal(() => assertTargetWithinKey(short, target({}, expiresAt), "update"))?.message).toBe("A key may only update keys that expire no later than it does.");
      expect(refusal(() => assertTargetWithinKey(short, target({}, expiresAt), "delete"))).toBeNull();
    }
    expect(refusal(() => assertTargetWithinKey(short, target({}, later(1000)), "rotate"))).toBeNull();
  });

  test("a never-expiring caller may act on any expiry", () => {
    for (const expiresAt of [null, later(1)]) expect(refusal(() => assertTargetWithinKey(caller({ self: ["*"] }), target({ self: ["WHOAMI"] }, expiresAt), "rotate"))).toBeNull();
  });
});

describe("expiryWithinKey", () => {
  test("an admin session keeps what it asked for", () => {
    expect(expiryWithinKey(null, undefined, { action: "create" })).toBeNull();
    expect(expiryWithinKey(null, undefined, { action: "update" })).toBeUndefined();
    expect(expiryWithinKey(null, null, { action: "update" })).toBeNull();
    expect(expiryWithinKey(null, later(5), { action: "create" })).toEqual(later(5));
  });

  test("on create an omitted expiry becomes the calling key's", () => {
    expect(expiryWithinKey(caller({}, later(1000)), undefined, { action: "create" })).toEqual(later(1000));
    expect(expiryWithinKey(caller({}), undefined, { action: "create" })).toBeNull();
  });

  test("on update an omitted expiry stays unchanged", () => {
    expect(expiryWithinKey(caller({}, later(1000)), undefined, { action: "update", targetId: "key_x" })).toBeUndefined();
  });

  test("a later expiry, or never, is refused; the same or sooner is kept", () => {
    const short = caller({}, later(1000));
    for (const requested of [null, later(1001)]) {
      expect(refusal(() => expiryWithinKey(short, requested, { action: "create" }))?.message).toBe(
        `A key may only create keys that expire no later than it does (${later(1000).toISOString()}).`,
      );
      expect(refusal(() => expiryWithinKey(short, requested, { action: "update", targetId: "key_other" }))?.code).toBe("FORBIDDEN");
    }
    expect(expiryWithinKey(short, later(1000), { action: "create" })).toEqual(later(1000));
    expect(expiryWithinKey(short, later(10), { action: "update", targetId: "key_x" })).toEqual(later(10));
  });

  test("a key changing itself: lengthening or removing its expiry names that rule; shortening is fine", () => {
    const self = caller({}, later(1000));
    for (const requested of [null, later(2000)]) {
      expect(refusal(() => expiryWithinKey(self, requested, { action: "update", targetId: self.id }))?.message).toStartWith("A key may not lengthen or remove its own expiry");
    }
    expect(expiryWithinKey(self, later(500), { action: "update", targetId: self.id })).toEqual(later(500));
    // A key that never expires may give itself an expiry.
    expect(expiryWithinKey(caller({}), later(500), { action: "update", targetId: "key_caller" })).toEqual(later(500));
  });
});
