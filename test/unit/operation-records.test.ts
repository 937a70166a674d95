// What runOperation records: one usage row per run whatever its outcome, one audit row per run of a
// change (never of a read), the input masked and never the output; a fault's own words are never kept,
// and an audit write that fails does not undo the answer of a change already made.
import { describe, expect, test } from "bun:test";
import { z } from "zod";
import type { Caller } from "../../src/domain/access/caller.ts";
import { AUDIT_MASK } from "../../src/domain/monitoring/mask.ts";
import { AuditLog } from "../../src/domain/monitoring/audit.ts";
import type { AuditRecord, UsageRecord } from "../../src/domain/monitoring/types.ts";
import { AppError } from "../../src/errors.ts";
import { createLogger } from "../../src/logger.ts";
import { defineOperation, hostCaller, runOperation, type OperationDeps, type Origin } from "../../src/operations/registry.ts";
import { CATALOG } from "../../src/operations/index.ts";

const ADMIN: Caller = {
  user: { id: "user_00000000-0000-4000-8000-000000000001", email: "a@example.com", role: "admin", createdAt: new Date(0) },
  key: { kind: "api_key", id: "key_1", permissions: { self: ["THING_MAKE", "THING_READ"] }, expiresAt: null, audience: null },
  permissions: { self: ["THING_MAKE", "THING_READ"] },
};
const ORIGIN: Origin = { face: "api", address: "198.51.100.4" };

function world() {
  const usage: UsageRecord[] = [];
  const audit: AuditRecord[] = [];
  const logged: string[] = [];
  const deps = {
    usage: { record: (r: UsageRecord) => usage.push(r) },
    audit: {
      record: (r: AuditRecord) => {
        audit.push(r);
      },
    },
    logger: createLogger({ level: "error", write: (line) => logged.push(line) }),
  } as unknown as OperationDeps;
  return { deps, usage, audit, logged };
}

const make = defineOperation({
  name: "THING_MAKE",
  title: "Make",
  description: "Makes a thing.",
  input: z.object({ name: z.string(), token: z.string().optional(), fail: z.enum(["no", "app", "fault"]).default("no") }),
  output: z.object({ thing: z.object({ id: z.string() }), token: z.string() }),
  forMembers: false,
  readOnly: false,
  rest: { method: "POST", path: "/things" },
  handler(_ctx, input) {
    if (input.fail === "app") throw new AppError("CONNECTION_NOT_FOUND", "No thing mcp_key_Secret123 here.");
    if (input.fail === "fault") throw new Error("/var/lib/secret-path exploded");
    return { thing: { id: "thing_1" }, token: "mcp_key_NewTokenShownOnce" };
  },
});

const read = defineOperation({
  name: "THING_READ",
  title: "Read",
  description: "Reads.",
  input: z.object({}),
  output: z.object({ n: z.number() }),
  forMembers: true,
  readOnly: true,
  rest: { method: "GET", path: "/things" },
  handler: () => ({ n: 1 }),
});

describe("runOperation's records", () => {
  test("a change: one usage row and one audit row; the target is the output's id; input masked, output never stored", async () => {
    const w = world();
    await runOperation(make, { deps: w.deps, caller: ADMIN, now: new Date(1000), origin: ORIGIN }, { name: "x", token: "hunter2" });
    expect(w.usage).toHaveLength(1);
    expect(w.usage[0]).toMatchObject({
      at: new Date(1000), face: "api", target: { kind: "self", id: null, slug: null }, method: "operation", name: "THING_MAKE",
      outcome: "ok", errorCode: null, actor: { userId: ADMIN.user.id, credentialKind: "api_key", credentialId: "key_1" }, address: "198.51.100.4", payload: null,
    });
    expect(w.usage[0]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(w.usage[0]!.requestBytes).toBe(JSON.stringify({ name: "x", token: "hunter2" }).length);
    expect(w.usage[0]!.responseBytes).toBeGreaterThan(0);
    expect(w.audit).toEqual([
      { at: new Date(1000), face: "api", actor: { userId: ADMIN.user.id, credentialKind: "api_key", credentialId: "key_1" }, action: "THING_MAKE", targetId: "thing_1", address: "198.51.100.4", change: { name: "x", token: AUDIT_MASK, fail: "no" }, outcome: "ok" },
    ]);
    expect(JSON.stringify([w.usage, w.audit])).not.toMatch(/hunter2|NewTokenShownOnce/);
  });

  test("a read: a usage row, no audit row", async () => {
    const w = world();
    await runOperation(read, { deps: w.deps, caller: ADMIN, now: new Date(), origin: ORIGIN }, {});
    expect(w.usage.map((u) => [u.name, u.outcome])).toEqual([["THING_READ", "ok"]]);
    expect(w.audit).toEqual([]);
  });

  test("not permitted: refused (FORBIDDEN) in both, with what was asked masked", async () => {
    const w = world();
    const member: Caller = { ...ADMIN, permissions: { self: ["THING_READ"] } };
    await expect(runOperation(make, { deps: w.deps, caller: member, now: new Date(), origin: ORIGIN }, { name: "x", token: "hunter2" })).rejects.toThrow(AppError);
    expect(w.usage[0]).toMatchObject({ outcome: "refused", errorCode: "FORBIDDEN" });
    expect(w.audit[0]).toMatchObject({ outcome: "refused", targetId: null, change: { name: "x", token: AUDIT_MASK } });
  });

  test("an AppError: error with its code, a token in its message masked; a fault: INTERNAL, its own words never kept", async () => {
    const w = world();
    const ctx = { deps: w.deps, caller: ADMIN, now: new Date(), origin: ORIGIN };
    await expect(runOperation(make, ctx, { name: "x", fail: "app" })).rejects.toThrow(AppError);
    await expect(runOperation(make, ctx, { name: "x", fail: "fault" })).rejects.toThrow("exploded");
    expect(w.usage.map((u) => [u.outcome, u.errorCode])).toEqual([["error", "CONNECTION_NOT_FOUND"], ["error", "INTERNAL"]]);
    expect(w.usage[0]!.errorMessage).toBe(`No thing mcp_key_${AUDIT_MASK} here.`);
    expect(w.usage[1]!.errorMessage).not.toContain("secret-path");
    expect(w.audit.map((a) => a.outcome)).toEqual(["error", "error"]);
  });

  test("invalid input: an error row with the raw input masked", async () => {
    const w = world();
    await expect(runOperation(make, { deps: w.deps, caller: ADMIN, now: new Date(), origin: ORIGIN }, { token: "hunter2" })).rejects.toThrow(AppError);
    expect(w.usage[0]).toMatchObject({ outcome: "error", errorCode: "VALIDATION_FAILED" });
    expect(w.audit[0]).toMatchObject({ outcome: "error", change: { token: AUDIT_MASK } });
  });

  test("the host (the CLI) is recorded as the host, with no user", async () => {
    const w = world();
    await runOperation(read, { deps: w.deps, caller: hostCaller(CATALOG), now: new Date(), origin: { face: "cli", address: null } }, {});
    expect(w.usage[0]!.actor).toEqual({ userId: null, credentialKind: "host", credentialId: null });
  });

  test("an audit write that fails is logged by the audit log; the change's answer stands", async () => {
    const w = world();
    // The real AuditLog over a database whose writes fail (a full disk, say).
    const failing = { $client: { run: () => { throw new Error("disk full"); } } } as unknown as ConstructorParameters<typeof AuditLog>[0];
    const deps = { ...w.deps, audit: new AuditLog(failing, w.deps.logger) } as OperationDeps;
    const out = await runOperation(make, { deps, caller: ADMIN, now: new Date(), origin: ORIGIN }, { name: "x" });
    expect(out.thing.id).toBe("thing_1");
    expect(w.logged.join("\n")).toContain("audit row not written");
  });
});
