// The one-time setup gate: a token that matches only while open, is replaced by a new one, and
// together with createFirstAdmin lets exactly one first admin in.
import { describe, expect, test } from "bun:test";
import { SetupGate } from "../../src/domain/access/setup.ts";
import { createFirstAdmin, countUsers } from "../../src/domain/access/users.ts";
import { useTestDatabase } from "../support/db.ts";
import { rejectionOf } from "../support/errors.ts";

const openDb = useTestDatabase();

describe("SetupGate", () => {
  test("is closed until opened, and then matches nothing", () => {
    const gate = new SetupGate();
    expect(gate.isOpen()).toBe(false);
    expect(gate.matches(undefined)).toBe(false);
    expect(gate.matches("")).toBe(false);
    expect(gate.matches("anything")).toBe(false);
  });

  test("matches only its own token once opened", () => {
    const gate = new SetupGate();
    const token = gate.open();
    expect(gate.isOpen()).toBe(true);
    expect(token.length).toBeGreaterThanOrEqual(32);
    expect(gate.matches(token)).toBe(true);
    expect(gate.matches(token.slice(0, -1))).toBe(false);
    expect(gate.matches(token + "x")).toBe(false);
    expect(gate.matches(token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase())).toBe(false);
    expect(gate.matches(undefined)).toBe(false);
  });

  test("opening again issues a new token and retires the old one", () => {
    const gate = new SetupGate();
    const first = gate.open();
    const second = gate.open();
    expect(second).not.toBe(first);
    expect(gate.matches(first)).toBe(false);
    expect(gate.matches(second)).toBe(true);
  });

  test("once closed, the token no longer works", () => {
    const gate = new SetupGate();
    const token = gate.open();
    gate.close();
    expect(gate.isOpen()).toBe(false);
    expect(gate.matches(token)).toBe(false);
  });
});

describe("first-admin setup", () => {
  test("the link works once: after the first admin is made, neither the token nor a replay gets in", async () => {
    const { db } = openDb();
    const gate = new SetupGate();
    const token = gate.open();

    // What the setup route does with a valid token.
    expect(gate.matches(token) && await countUsers(db) === 0).toBe(true);
    await createFirstAdmin(db, { email: "first@example.com", password: "first admin password" });
    gate.close();

    expect(gate.matches(token)).toBe(false);
    // A second request that got past the gate before it closed is still refused by the database check.
    expect(await rejectionOf(createFirstAdmin(db, { email: "late@example.com", password: "late admin password" }))).toMatchObject({
      code: "SETUP_DONE",
    });
    expect(await countUsers(db)).toBe(1);
  });

  test("two setups racing on one database make one admin", async () => {
    const { db } = openDb();
    const results = await Promise.allSettled([
      createFirstAdmin(db, { email: "one@example.com", password: "first admin password" }),
      createFirstAdmin(db, { email: "two@example.com", password: "first admin password" }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: "SETUP_DONE" });
    expect(await countUsers(db)).toBe(1);
  });
});
