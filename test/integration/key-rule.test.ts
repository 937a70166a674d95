// The key rule (issue 9), on both bearer faces (/mcp/self tools and /api/v1 REST): a key that creates,
// updates, rotates or deletes a key acts within its own powers. The target's permissions before and
// after are within the calling key's, no key minted or changed by a key expires later than it, and no
// key lengthens or removes its own expiry. Admin sessions are unchanged (see admin-keys.test.ts).
import { describe, expect, test } from "bun:test";
import { getApiKey, listApiKeys } from "../../src/domain/access/api-keys.ts";
import type { Permissions } from "../../src/domain/access/permissions.ts";
import type { User } from "../../src/domain/access/users.ts";
import { apiRequest, callTool, mcpCall, mintKey, TOKEN_ANYWHERE, TOKEN_PATTERN, useHarness, type Harness } from "../support/key-harness.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

const harness = useHarness();
const HOUR = 3_600_000;
const FULL: Permissions = { self: ["*"], "*": ["*"] };

type Answer = { ok: boolean; code?: string; message: string; body: Record<string, unknown>; text: string };
type Op = "API_KEY_CREATE" | "API_KEY_UPDATE" | "API_KEY_ROTATE" | "API_KEY_DELETE";

const REST: Record<Op, (args: Record<string, unknown>) => { method: string; path: string; json?: unknown }> = {
  API_KEY_CREATE: (args) => ({ method: "POST", path: "/keys", json: args }),
  API_KEY_UPDATE: ({ id, ...rest }) => ({ method: "PATCH", path: `/keys/${id as string}`, json: rest }),
  API_KEY_ROTATE: ({ id, ...rest }) => ({ method: "POST", path: `/keys/${id as string}/rotate`, json: rest }),
  API_KEY_DELETE: ({ id }) => ({ method: "DELETE", path: `/keys/${id as string}` }),
};

/** The two faces a key reaches the key operations through; each answer normalised to ok/code/message. */
const FACES: Record<string, (h: Harness, token: string, op: Op, args: Record<string, unknown>) => Promise<Answer>> = {
  mcp: async (h, token, op, args) => {
    const answer = await callTool(h.app, token, op, args);
    const text = JSON.stringify(answer);
    if (answer.result?.isError) {
      const line = answer.result.content?.[0]?.text ?? "";
      const colon = line.indexOf(": ");
      return { ok: false, code: line.slice(0, colon), message: line.slice(colon + 2), body: {}, text };
    }
    return { ok: true, message: "", body: (answer.result?.structuredContent ?? {}) as Record<string, unknown>, text };
  },
  rest: async (h, token, op, args) => {
    const req = REST[op](args);
    const res = await apiRequest(h.app, req.method, req.path, { token, json: req.json });
    const text = await res.text();
    const body = JSON.parse(text) as Record<string, unknown>;
    const error = body.error as { code: string; message: string } | undefined;
    if (res.status >= 300) {
      expect(res.status).toBeLessThan(500);
      return { ok: false, code: error?.code, message: error?.message ?? "", body, text };
    }
    return { ok: true, message: "", body, text };
  },
};

async function key(h: Harness, owner: User, permissions: Permissions, options: { name?: string; expiresAt?: Date | null } = {}) {
  return await mintKey(h.deps, owner, permissions, options);
}

function inHours(hours: number): Date {
  return new Date(Date.now() + hours * HOUR);
}

for (const [face, act] of Object.entries(FACES)) {
  describe(`${face}: a key never exceeds the key that changes it`, () => {
    test("a ROTATE-only key cannot rotate a {self:[*], *:[*]} sibling: FORBIDDEN, no token, the sibling's token still works", async () => {
      const h = await harness();
      const strong = await key(h, h.admin, FULL, { name: "strong" });
      const rotator = await key(h, h.admin, { self: ["API_KEY_ROTATE"] });
      const before = (await rawRow(h.deps, "SELECT token_hash, previous_token_hash FROM api_keys WHERE id = ?", strong.key.id));
      for (const args of [{ id: strong.key.id }, { id: strong.key.id, grace_period: "1h" }]) {
        const answer = await act(h, rotator.token, "API_KEY_ROTATE", args);
        expect(answer.ok).toBe(false);
        expect(answer.code).toBe("FORBIDDEN");
        expect(answer.message).toBe("A key may only rotate keys whose permissions are within its own.");
        expect(answer.text).not.toMatch(TOKEN_ANYWHERE);
      }
      expect((await rawRow(h.deps, "SELECT token_hash, previous_token_hash FROM api_keys WHERE id = ?", strong.key.id))).toEqual(before);
      expect((await h.deps.verifyKey(strong.token))?.keyId).toBe(strong.key.id);
    });

    test("an UPDATE-only key cannot narrow, rename or re-date a stronger sibling", async () => {
      const h = await harness();
      const strong = await key(h, h.admin, FULL, { name: "strong" });
      const updater = await key(h, h.admin, { self: ["API_KEY_UPDATE"] });
      for (const change of [{ permissions: { self: ["API_KEY_UPDATE"] } }, { permissions: {} }, { name: "hijacked" }, { expires_in: "1h" }]) {
        const answer = await act(h, updater.token, "API_KEY_UPDATE", { id: strong.key.id, ...change });
        expect(answer.ok).toBe(false);
        expect(answer.code).toBe("FORBIDDEN");
        expect(answer.message).toBe("A key may only update keys whose permissions are within its own.");
      }
      expect(await getApiKey(h.deps.db, strong.key.id)).toMatchObject({ name: "strong", permissions: FULL, expiresAt: null });
    });

    test("a key with a list of every tool still cannot touch a key holding \"*\" (a list never covers \"*\")", async () => {
      const h = await harness();
      const star = await key(h, h.admin, { self: ["*"] }, { name: "star" });
      const listed = await key(h, h.admin, { self: [...h.deps.catalog.all] });
      for (const op of ["API_KEY_UPDATE", "API_KEY_ROTATE", "API_KEY_DELETE"] as const) {
        const answer = await act(h, listed.token, op, { id: star.key.id, ...(op === "API_KEY_UPDATE" ? { name: "x" } : {}) });
        expect(answer.code).toBe("FORBIDDEN");
      }
      expect((await getApiKey(h.deps.db, star.key.id))?.name).toBe("star");
    });

    test("a DELETE-only key cannot delete a stronger sibling, which keeps working", async () => {
      const h = await harness();
      const strong = await key(h, h.admin, FULL, { name: "strong" });
      const deleter = await key(h, h.admin, { self: ["API_KEY_DELETE"] });
      const answer = await act(h, deleter.token, "API_KEY_DELETE", { id: strong.key.id });
      expect(answer.ok).toBe(false);
      expect(answer.code).toBe("FORBIDDEN");
      expect(answer.message).toBe("A key may only delete keys whose permissions are within its own.");
      expect(await getApiKey(h.deps.db, strong.key.id)).not.toBeNull();
      expect((await h.deps.verifyKey(strong.token))?.keyId).toBe(strong.key.id);
    });

    test("a 1-hour key cannot mint a never-expiring key or a longer one; omitting the expiry inherits its own", async () => {
      const h = await harness();
      const ends = inHours(1);
      const short = await key(h, h.admin, { self: ["API_KEY_CREATE"] }, { expiresAt: ends });
      for (const expiry of [{ expires_in: "2h" }, { expires_in: "3650d" }, { expires_at: inHours(1.5).toISOString() }]) {
        const answer = await act(h, short.token, "API_KEY_CREATE", { name: "longer", permissions: { self: ["API_KEY_CREATE"] }, ...expiry });
        expect(answer.ok).toBe(false);
        expect(answer.code).toBe("FORBIDDEN");
        expect(answer.message).toStartWith("A key may only create keys that expire no later than it does");
        expect(answer.text).not.toMatch(TOKEN_ANYWHERE);
      }
      expect((await listApiKeys(h.deps.db)).map((k) => k.name)).not.toContain("longer");

      const inherited = await act(h, short.token, "API_KEY_CREATE", { name: "inherits", permissions: { self: ["API_KEY_CREATE"] } });
      expect(inherited.ok).toBe(true);
      expect((inherited.body.key as { expires_at: string }).expires_at).toBe(ends.toISOString());
      expect(inherited.body.token as string).toMatch(TOKEN_PATTERN);

      const shorter = await act(h, short.token, "API_KEY_CREATE", { name: "shorter", permissions: {}, expires_in: "30m" });
      expect(shorter.ok).toBe(true);
      expect(new Date((shorter.body.key as { expires_at: string }).expires_at).getTime()).toBeLessThanOrEqual(ends.getTime());
    });

    test("a key cannot remove or lengthen its own expiry; it may shorten it", async () => {
      const h = await harness();
      const ends = inHours(1);
      const self = await key(h, h.admin, { self: ["API_KEY_UPDATE"] }, { expiresAt: ends });
      for (const expiry of [{ expires_at: null }, { expires_in: "2h" }, { expires_at: inHours(24).toISOString() }]) {
        const answer = await act(h, self.token, "API_KEY_UPDATE", { id: self.key.id, ...expiry });
        expect(answer.ok).toBe(false);
        expect(answer.code).toBe("FORBIDDEN");
        expect(answer.message).toStartWith("A key may not lengthen or remove its own expiry");
      }
      expect((await getApiKey(h.deps.db, self.key.id))?.expiresAt).toEqual(ends);

      const shorter = await act(h, self.token, "API_KEY_UPDATE", { id: self.key.id, expires_in: "30m" });
      expect(shorter.ok).toBe(true);
      expect((await getApiKey(h.deps.db, self.key.id))!.expiresAt!.getTime()).toBeLessThan(ends.getTime());
    });

    test("a short-lived key cannot update or rotate a longer-lived (or never-expiring) sibling, nor give one a later expiry", async () => {
      const h = await harness();
      const short = await key(h, h.admin, { self: ["API_KEY_UPDATE", "API_KEY_ROTATE"] }, { expiresAt: inHours(1) });
      const forever = await key(h, h.admin, {}, { name: "forever" });
      const longer = await key(h, h.admin, {}, { name: "longer", expiresAt: inHours(48) });
      for (const target of [forever, longer]) {
        const rotate = await act(h, short.token, "API_KEY_ROTATE", { id: target.key.id });
        expect(rotate.code).toBe("FORBIDDEN");
        expect(rotate.message).toBe("A key may only rotate keys that expire no later than it does.");
        expect(rotate.text).not.toMatch(TOKEN_ANYWHERE);
        const update = await act(h, short.token, "API_KEY_UPDATE", { id: target.key.id, name: "changed" });
        expect(update.code).toBe("FORBIDDEN");
        expect(update.message).toBe("A key may only update keys that expire no later than it does.");
        expect((await h.deps.verifyKey(target.token))?.keyId).toBe(target.key.id);
      }
      const within = await key(h, h.admin, {}, { name: "within", expiresAt: inHours(0.5) });
      const stretch = await act(h, short.token, "API_KEY_UPDATE", { id: within.key.id, expires_at: null });
      expect(stretch.code).toBe("FORBIDDEN");
      expect(stretch.message).toStartWith("A key may only update keys that expire no later than it does");
      expect((await getApiKey(h.deps.db, within.key.id))?.name).toBe("within");
    });

    test("a key used through its rotated-out token is bounded by the grace period, not the key's expiry", async () => {
      const h = await harness();
      const { key: k, token: old } = await key(h, h.admin, { self: ["API_KEY_CREATE", "API_KEY_ROTATE"] });
      await act(h, (await key(h, h.admin, FULL)).token, "API_KEY_ROTATE", { id: k.id, grace_period: "1h" });
      const longer = await act(h, old, "API_KEY_CREATE", { name: "from-old", permissions: {}, expires_in: "2h" });
      expect(longer.code).toBe("FORBIDDEN");
      const again = await act(h, old, "API_KEY_ROTATE", { id: k.id });
      expect(again.code).toBe("FORBIDDEN");
      expect(again.text).not.toMatch(TOKEN_ANYWHERE);
    });

    test("happy: a key manages a narrower, shorter sibling (update, rotate, delete)", async () => {
      const h = await harness();
      const manager = await key(h, h.member, { self: ["API_KEY_UPDATE", "API_KEY_ROTATE", "API_KEY_DELETE", "WHOAMI"] }, { expiresAt: inHours(48) });
      const sibling = await key(h, h.member, { self: ["WHOAMI"] }, { name: "sibling", expiresAt: inHours(24) });
      const update = await act(h, manager.token, "API_KEY_UPDATE", { id: sibling.key.id, name: "renamed", permissions: { self: ["WHOAMI", "API_KEY_ROTATE"] }, expires_in: "47h" });
      expect(update.ok).toBe(true);
      expect(await getApiKey(h.deps.db, sibling.key.id)).toMatchObject({ name: "renamed", permissions: { self: ["WHOAMI", "API_KEY_ROTATE"] } });
      const rotate = await act(h, manager.token, "API_KEY_ROTATE", { id: sibling.key.id });
      expect(rotate.ok).toBe(true);
      expect(rotate.body.token as string).toMatch(TOKEN_PATTERN);
      expect((await h.deps.verifyKey(rotate.body.token as string))?.keyId).toBe(sibling.key.id);
      expect(await h.deps.verifyKey(sibling.token)).toBeNull();
      const del = await act(h, manager.token, "API_KEY_DELETE", { id: sibling.key.id });
      expect(del.ok).toBe(true);
      expect(await getApiKey(h.deps.db, sibling.key.id)).toBeNull();
    });

    test("happy: a member's {self:[*]} key rotates and deletes its {self:[*]} sibling, and a never-expiring key sets any expiry", async () => {
      const h = await harness();
      const mine = await key(h, h.member, { self: ["*"], "*": ["*"] });
      const sibling = await key(h, h.member, { self: ["*"] }, { name: "sibling" });
      const rotate = await act(h, mine.token, "API_KEY_ROTATE", { id: sibling.key.id });
      expect(rotate.ok).toBe(true);
      const update = await act(h, mine.token, "API_KEY_UPDATE", { id: sibling.key.id, expires_in: "3650d" });
      expect(update.ok).toBe(true);
      const cleared = await act(h, mine.token, "API_KEY_UPDATE", { id: sibling.key.id, expires_at: null });
      expect(cleared.ok).toBe(true);
      expect((await getApiKey(h.deps.db, sibling.key.id))?.expiresAt).toBeNull();
      expect((await act(h, mine.token, "API_KEY_DELETE", { id: sibling.key.id })).ok).toBe(true);
    });

    test("an admin's key is bound the same way on another user's key", async () => {
      const h = await harness();
      const memberKey = await key(h, h.member, { "*": ["*"] }, { name: "member's" });
      const narrow = await key(h, h.admin, { self: ["API_KEY_ROTATE", "API_KEY_DELETE"] });
      expect((await act(h, narrow.token, "API_KEY_ROTATE", { id: memberKey.key.id })).code).toBe("FORBIDDEN");
      expect((await act(h, narrow.token, "API_KEY_DELETE", { id: memberKey.key.id })).code).toBe("FORBIDDEN");
      const wide = await key(h, h.admin, FULL);
      expect((await act(h, wide.token, "API_KEY_ROTATE", { id: memberKey.key.id })).ok).toBe(true);
    });
  });
}

describe("sessions act as their user, as before", () => {
  /** A same-origin admin form POST with a session cookie; returns the token shown, if any. */
  async function rotateInAdmin(h: Harness, cookie: string, id: string): Promise<string | null> {
    const res = await h.request(`/admin/keys/${id}/rotate`, {
      method: "POST",
      headers: { cookie, "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" },
      body: "",
    });
    expect(res.status).toBe(200);
    return /<code id="new-token"[^>]*>([^<]*)<\/code>/.exec(await res.text())?.[1] ?? null;
  }

  test("an admin session rotates a {self:[*], *:[*]} key that never expires; a member session its own", async () => {
    const h = await harness();
    const boss = await h.createUser("boss@example.com", "admin");
    const worker = await h.createUser("worker@example.com", "member");
    const strong = await key(h, boss, FULL);
    const bossToken = await rotateInAdmin(h, await h.signIn(boss.email), strong.key.id);
    expect(bossToken).toMatch(TOKEN_PATTERN);
    expect((await h.deps.verifyKey(bossToken!))?.keyId).toBe(strong.key.id);
    const own = await key(h, worker, { self: ["*"], "*": ["*"] });
    const workerToken = await rotateInAdmin(h, await h.signIn(worker.email), own.key.id);
    expect((await h.deps.verifyKey(workerToken!))?.keyId).toBe(own.key.id);
  });

  test("WHOAMI shows the key's id and kind, not the stored permissions or expiry the rule uses", async () => {
    const h = await harness();
    const { key: k, token } = await key(h, h.admin, { self: ["WHOAMI"] }, { expiresAt: inHours(1) });
    const res = await apiRequest(h.app, "GET", "/whoami", { token });
    expect(((await res.json()) as { key: unknown }).key).toEqual({ id: k.id, kind: "api_key" });
  });
});

describe("tool descriptions", () => {
  test("every key-changing tool at /mcp/self tells a model the rule", async () => {
    const h = await harness();
    const { token } = await key(h, h.admin, { self: ["*"] });
    const answer = await mcpCall(h.app, token, "tools/list");
    const tools = (answer.result?.tools ?? []) as { name: string; description?: string }[];
    const described = (name: string) => tools.find((t) => t.name === name)?.description ?? "";
    for (const name of ["API_KEY_CREATE", "API_KEY_UPDATE", "API_KEY_ROTATE", "API_KEY_DELETE"]) {
      expect(described(name)).toContain("within the calling key's");
    }
    for (const name of ["API_KEY_CREATE", "API_KEY_UPDATE", "API_KEY_ROTATE"]) expect(described(name)).toContain("expire later than the calling key");
    expect(described("API_KEY_CREATE")).toContain("the new key expires with it");
    expect(described("API_KEY_LIST")).not.toContain("within the calling key's");
  });
});
