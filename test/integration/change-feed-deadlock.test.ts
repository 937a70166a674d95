// The change feed on PostgreSQL bumps its version at commit (migration 0003): two transactions writing
// different rows of cached tables no longer deadlock on the feed's one row (0002 bumped it per statement,
// holding its lock until commit), a transaction bumps it once however many rows it writes, a rolled-back
// one leaves it alone, and TRUNCATE still bumps it.
import { expect, test } from "bun:test";
import { SQL } from "bun";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";
import { openPostgres } from "../../src/db/client.ts";

const pg = usePostgres();
reportMissingPostgres("the change feed's commit-time bump", test);

test.skipIf(!havePostgres)("two transactions writing different rows of cached tables do not deadlock", async () => {
  const url = await pg.emptyUrl();
  await (await openPostgres({ url, poolSize: 1 })).close(); // migrated: tables and the change feed
  const one = new SQL({ url, max: 1 });
  const two = new SQL({ url, max: 1 });
  const now = Date.now();
  await one`insert into users (id, email, role, password_hash, created_at, updated_at) values ('user_1', 'one@example.com', 'member', '!', ${now}, ${now}), ('user_2', 'two@example.com', 'member', '!', ${now}, ${now})`;
  const outcomes: string[] = [];
  try {
    // A: a multi-statement batch (the last-used flush's shape): user_1 first …
    const settle = (name: string, p: PromiseLike<unknown>) => Promise.resolve(p).then(() => `${name} ok`, (err: Error) => `${name}: ${err.message}`);
    const a = settle("A", one.begin(async (tx) => {
      await tx`update users set updated_at = ${now + 1} where id = 'user_1'`;
      await Bun.sleep(200);
      // … then user_2, which B has locked while B waits for A's lock on the change feed's row.
      await tx`update users set updated_at = ${now + 1} where id = 'user_2'`;
    }));
    await Bun.sleep(50);
    // B: one statement on another row (a revoke, a demotion).
    // (Bun's SQL runs a query when it is awaited or then()ed: settle() starts it now.)
    const b = settle("B", two`update users set role = 'admin' where id = 'user_2'`);
    outcomes.push(...(await Promise.all([a, b])));
  } finally {
    await one.close();
    await two.close();
  }
  expect(outcomes).toEqual(["A ok", "B ok"]);
}, 20_000);

test.skipIf(!havePostgres)("a transaction bumps the version once, however many rows it writes; a rolled-back one not at all; TRUNCATE too", async () => {
  const url = await pg.emptyUrl();
  await (await openPostgres({ url, poolSize: 1 })).close();
  const sql = new SQL({ url, max: 1 });
  const version = async (): Promise<number> => Number(((await sql`select version from switchboard_changes where id = 1`) as { version: string }[])[0]!.version);
  const now = Date.now();
  try {
    const start = await version();
    await sql.begin(async (tx) => {
      for (const n of [1, 2, 3]) await tx`insert into users (id, email, role, password_hash, created_at, updated_at) values (${`user_${n}`}, ${`${n}@example.com`}, 'member', '!', ${now}, ${now})`;
      await tx`update users set role = 'admin' where id = 'user_1'`;
      await tx`delete from users where id = 'user_3'`;
    });
    expect(await version()).toBe(start + 1);
    await sql.begin(async (tx) => {
      await tx`update users set role = 'member' where id = 'user_1'`;
      throw new Error("rolled back");
    }).catch(() => undefined);
    expect(await version()).toBe(start + 1);
    // Each transaction bumps it again (the mark of the bump is the transaction's own).
    await sql`update users set updated_at = ${now + 1} where id = 'user_1'`;
    await sql`update users set updated_at = ${now + 2} where id = 'user_2'`;
    expect(await version()).toBe(start + 3);
    await sql`truncate users cascade`;
    expect(await version()).toBe(start + 4);
  } finally {
    await sql.close();
  }
}, 20_000);
