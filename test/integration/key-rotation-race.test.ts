// Two rotations of one key at once on PostgreSQL (two replicas): they end as in some serial order, so the
// token each returned works (the last one current, the other in its grace period). Without the conditional
// write both read the same current hash, and the token the first returned worked nowhere.
import { expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { tables } from "../../src/db/store.ts";
import { hashToken, rotateApiKey } from "../../src/domain/access/api-keys.ts";
import { deriveKeys } from "../../src/security/keys.ts";
import { mintKey } from "../support/key-harness.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";
import { insertUser } from "../support/users.ts";
import { TEST_SECRET } from "../support/app.ts";

const pg = usePostgres();
reportMissingPostgres("the concurrent rotation test", test);

test.skipIf(!havePostgres)("two rotations at once: the token one of them returned is the other's grace token, as in some serial order", async () => {
  const { db } = await pg.open({ poolSize: 4 });
  const keys = deriveKeys(TEST_SECRET);
  const owner = await insertUser({ db }, "admin");
  const problems: string[] = [];
  for (let i = 0; i < 10; i++) {
    const { key } = await mintKey({ db, keys }, owner, { "*": ["*"] });
    const [one, two] = await Promise.all([
      rotateApiKey(db, { hmacKey: keys.tokenHmac, id: key.id, graceMs: 60_000 }),
      rotateApiKey(db, { hmacKey: keys.tokenHmac, id: key.id, graceMs: 60_000 }),
    ]);
    const [row] = await db.select().from(tables(db).apiKeys).where(eq(tables(db).apiKeys.id, key.id));
    const h1 = hashToken(keys.tokenHmac, one.token);
    const h2 = hashToken(keys.tokenHmac, two.token);
    // Serially: the last one is current, the first one is in its grace period.
    const serial = (row!.tokenHash === h1 && row!.previousTokenHash === h2) || (row!.tokenHash === h2 && row!.previousTokenHash === h1);
    if (!serial) problems.push(`round ${i}: a returned token works nowhere`);
  }
  expect(problems).toEqual([]);
}, 30_000);
