// The database handle's contract (src/db/store.ts): tables by dialect, transactions that commit,
// roll back, nest, and never interleave on one SQLite connection.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { openDatabase } from "../../src/db/client.ts";
import { dialectOf, outsideTransactions, sqliteOf, tables, transaction } from "../../src/db/store.ts";
import { useTestDatabase } from "../support/db.ts";

const openDb = useTestDatabase();

function userRow(id: string) {
  const now = new Date();
  return { id, email: `${id}@example.com`, passwordHash: "x", role: "member" as const, createdAt: now, updatedAt: now };
}

describe("the store", () => {
  test("a SQLite handle says so, gives its tables and its connection", () => {
    const { db, sqlite } = openDb();
    expect(dialectOf(db)).toBe("sqlite");
    expect(sqliteOf(db)).toBe(sqlite);
    expect(tables(db).users).toBeDefined();
  });

  test("a transaction commits what it wrote when it resolves", async () => {
    const { db } = openDb();
    const { users } = tables(db);
    const out = await transaction(db, async (tx) => {
      await tx.insert(users).values(userRow("user_a"));
      return "done";
    });
    expect(out).toBe("done");
    expect(await db.select().from(users).where(eq(users.id, "user_a"))).toHaveLength(1);
  });

  test("a transaction that throws leaves nothing behind", async () => {
    const { db } = openDb();
    const { users } = tables(db);
    await expect(
      transaction(db, async (tx) => {
        await tx.insert(users).values(userRow("user_b"));
        throw new Error("no");
      }),
    ).rejects.toThrow("no");
    expect(await db.select().from(users)).toHaveLength(0);
  });

  test("a transaction inside a transaction is the outer one: one rollback undoes both", async () => {
    const { db } = openDb();
    const { users } = tables(db);
    await expect(
      transaction(db, async (tx) => {
        await transaction(tx, async (inner) => {
          await inner.insert(users).values(userRow("user_c"));
        });
        throw new Error("outer fails");
      }),
    ).rejects.toThrow("outer fails");
    expect(await db.select().from(users)).toHaveLength(0);
  });

  test("transactions started together run one after the other, each seeing the last one's commit", async () => {
    const { db } = openDb();
    const { users } = tables(db);
    const order: string[] = [];
    const one = (id: string) =>
      transaction(db, async (tx) => {
        order.push(`begin ${id}`);
        const before = (await tx.select().from(users)).length;
        await Bun.sleep(5);
        await tx.insert(users).values(userRow(id));
        order.push(`end ${id}`);
        return before;
      });
    const seen = await Promise.all([one("user_1"), one("user_2"), one("user_3")]);
    expect(seen).toEqual([0, 1, 2]);
    expect(order).toEqual(["begin user_1", "end user_1", "begin user_2", "end user_2", "begin user_3", "end user_3"]);
  });

  test("outsideTransactions waits for an open transaction of another request", async () => {
    const { db } = openDb();
    const { users } = tables(db);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const open = transaction(db, async (tx) => {
      await tx.insert(users).values(userRow("user_d"));
      await held;
    });
    await Bun.sleep(1);
    let waited = false;
    const outside = outsideTransactions(db).then(() => (waited = true));
    await Bun.sleep(5); // bounded wait for something that must not happen: the gate opening early
    expect(waited).toBe(false);
    release();
    await open;
    await outside;
    expect(waited).toBe(true);
  });

  test("another request's statement waits out an open transaction: its insert survives the rollback", async () => {
    const { db } = openDb();
    const { users } = tables(db);
    const order: string[] = [];
    let began!: () => void;
    const inside = new Promise<void>((resolve) => (began = resolve));
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const failing = transaction(db, async (tx) => {
      await tx.insert(users).values(userRow("user_tx"));
      began();
      await held;
      order.push("rollback");
      throw new Error("rolled back");
    });
    await inside;
    // Another request, outside the transaction: on a synchronous driver it would run inside it now.
    const plain = db.insert(users).values(userRow("user_plain")).then(() => order.push("plain insert"));
    await Bun.sleep(5); // room for the insert to run early, were nothing holding it
    release();
    await expect(failing).rejects.toThrow("rolled back");
    await plain;
    expect(order).toEqual(["rollback", "plain insert"]);
    expect((await db.select({ id: users.id }).from(users)).map((u) => u.id)).toEqual(["user_plain"]);
  });

  test("work a transaction left running counts as outside it once it ends", async () => {
    const { db } = openDb();
    const { users } = tables(db);
    let leaked!: Promise<unknown>;
    let scheduled!: () => void;
    const timerSet = new Promise<void>((resolve) => (scheduled = resolve));
    let fire!: () => void;
    const fired = new Promise<void>((resolve) => (fire = resolve));
    await transaction(db, async () => {
      // A timer keeps the transaction's async context after the transaction has committed.
      setTimeout(() => {
        leaked = fired.then(() => db.insert(users).values(userRow("user_late")));
        scheduled();
      }, 0);
    });
    await timerSet;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let began!: () => void;
    const inside = new Promise<void>((resolve) => (began = resolve));
    const failing = transaction(db, async (tx) => {
      await tx.insert(users).values(userRow("user_tx"));
      began();
      await held;
      throw new Error("rolled back");
    });
    await inside;
    fire();
    await Bun.sleep(5); // room for the late insert to land inside the second transaction, were it let in
    release();
    await expect(failing).rejects.toThrow("rolled back");
    await leaked;
    expect((await db.select({ id: users.id }).from(users)).map((u) => u.id)).toEqual(["user_late"]);
  });

  test("a transaction begun from work an ended transaction left running is a transaction of its own", async () => {
    const { db } = openDb();
    const { users } = tables(db);
    let later!: Promise<unknown>;
    let scheduled!: () => void;
    const timerSet = new Promise<void>((resolve) => (scheduled = resolve));
    await transaction(db, async () => {
      setTimeout(() => {
        later = transaction(db, async (tx) => {
          await tx.insert(users).values(userRow("user_own"));
          throw new Error("only this one rolls back");
        }).catch((err: Error) => err.message);
        scheduled();
      }, 0);
    });
    await timerSet;
    expect(await later).toBe("only this one rolls back");
    expect(await db.select().from(users)).toHaveLength(0);
  });

  test("two handles on one file in one process: the second's statement waits for the first's transaction, not on the lock", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-store-"));
    // A short busy timeout: a statement that blocked on the lock would fail rather than wait it out.
    const one = openDatabase({ path: join(dir, "db.sqlite"), busyTimeoutMs: 50 });
    const two = openDatabase({ path: join(dir, "db.sqlite"), busyTimeoutMs: 50 });
    try {
      const { users } = tables(one.db);
      let began!: () => void;
      const inside = new Promise<void>((resolve) => (began = resolve));
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const open = transaction(one.db, async (tx) => {
        await tx.insert(users).values(userRow("user_one"));
        began();
        await held;
      });
      await inside;
      // Started now (a query builder runs once awaited or then'd).
      const plain = two.db.insert(tables(two.db).users).values(userRow("user_two")).then(() => "inserted", (err: Error) => err.message);
      await Bun.sleep(60); // past the busy timeout, were the insert blocked on the lock
      release();
      await open;
      expect(await plain).toBe("inserted");
      expect((await two.db.select({ id: users.id }).from(users).orderBy(users.id)).map((u) => u.id)).toEqual(["user_one", "user_two"]);
    } finally {
      await one.close();
      await two.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
