// [database] for PostgreSQL: url's shape (named by its key path, never echoed), the secret replicas
// must share, the pool size, and the password masked in the effective config; cluster.advertise_url
// required when clustered replicas listen on an unspecified address.
import { describe, expect, test } from "bun:test";
import { parseConfig, type Config } from "../../src/config/load.ts";
import { renderEffectiveConfig } from "../../src/config/describe.ts";
import { problemsOf } from "../support/errors.ts";

const SECRET = "correct-horse-battery-staple-0123456789";

function parse(database: Record<string, unknown>, options: { secret?: string; env?: Record<string, string> } = {}): Config {
  const security = options.secret === undefined ? {} : { secret: options.secret };
  return parseConfig({ database, security }, { source: "test.toml", env: options.env ?? {}, baseDir: "/srv/switchboard" });
}

describe("database.url", () => {
  test("unset: SQLite, and the secret may be generated", () => {
    const config = parse({});
    expect(config.database.url).toBeUndefined();
    expect(config.database.pool_size).toBe(10);
  });

  test.each(["postgres://sb:pw@db.internal:5432/switchboard", "postgresql://db.internal/switchboard", "postgres://sb@127.0.0.1/sb?sslmode=require"])(
    "accepts %p",
    (url) => {
      expect(parse({ url, pool_size: 25 }, { secret: SECRET }).database).toMatchObject({ url, pool_size: 25 });
    },
  );

  test("${DATABASE_URL} is read from the environment", () => {
    const url = "postgres://sb:pw@db:5432/sb";
    expect(parse({ url: "${DATABASE_URL}" }, { secret: SECRET, env: { DATABASE_URL: url } }).database.url).toBe(url);
  });

  test.each([
    ["mysql://sb:hunter2-pass@db/sb", 'database.url: expected a URL starting with "postgres://" or "postgresql://"'],
    ["db.internal:5432/sb?password=hunter2-pass", 'database.url: expected a URL starting with "postgres://" or "postgresql://"'],
    ["postgres:///sb?password=hunter2-pass", 'database.url: expected a host, as in "postgres://user:password@host:5432/database"'],
    ["postgres://sb:hunter2-pass@db/s b", "database.url: expected a URL without whitespace"],
    ["postgres://sb:hunter2-pass@db:99999/sb", 'database.url: expected a URL such as "postgres://user:password@host:5432/database"'],
  ])("refuses %p, naming the key and never echoing it", (url, problem) => {
    const problems = problemsOf(() => parse({ url }, { secret: SECRET }));
    expect(problems).toEqual([problem]);
    expect(problems.join("\n")).not.toContain("hunter2-pass");
  });

  test("needs security.secret: replicas must share it", () => {
    expect(problemsOf(() => parse({ url: "postgres://db/sb" }))).toEqual([
      "security.secret: required when database.url is set: every replica must use the same secret (use ${VAR})",
    ]);
  });

  test("pool_size is a positive integer", () => {
    expect(problemsOf(() => parse({ url: "postgres://db/sb", pool_size: 0 }, { secret: SECRET }))[0]).toStartWith("database.pool_size:");
    expect(problemsOf(() => parse({ url: "postgres://db/sb", pool_size: 2.5 }, { secret: SECRET }))[0]).toStartWith("database.pool_size:");
  });

  test("the effective config shows the URL with its password masked", () => {
    const config = parse({ url: "${DATABASE_URL}" }, { secret: SECRET, env: { DATABASE_URL: "postgres://sb:hunter2-pass@db:5432/sb" } });
    const text = renderEffectiveConfig(config, { secretSource: "set in the config" });
    expect(text).toContain('url = "postgres://sb:********@db:5432/sb"');
    expect(text).not.toContain("hunter2-pass");
  });
});

describe("cluster.advertise_url", () => {
  function load(listen: string, options: { url?: string; enabled?: boolean; advertise?: string }): Config {
    const database = options.url ? { url: options.url } : {};
    const cluster = { ...(options.enabled ? { enabled: true } : {}), ...(options.advertise ? { advertise_url: options.advertise } : {}) };
    return parseConfig({ server: { listen }, database, cluster, security: { secret: SECRET } }, { source: "test.toml", env: {}, baseDir: "/srv/switchboard" });
  }
  const clustered = (listen: string, options: { url?: string; enabled?: boolean; advertise?: string } = {}): string[] => problemsOf(() => load(listen, options));

  test.each(["0.0.0.0:8787", "[::]:8787", "[0:0::0]:8787", "0:8787"])("is required with PostgreSQL on %p, naming the key", (listen) => {
    const problems = clustered(listen, { url: "postgres://db/sb" });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("cluster.advertise_url: required when several replicas share the database");
    expect(problems[0]).toContain("http://10.0.0.5:8787");
  });

  test("is required with cluster.enabled on SQLite too", () => {
    expect(clustered("0.0.0.0:9000", { enabled: true })[0]).toStartWith("cluster.advertise_url: required");
  });

  test("is not required on a routable listen address, when set, or without clustering", () => {
    expect(load("10.0.0.5:8787", { url: "postgres://db/sb" }).server.listen).toBe("10.0.0.5:8787");
    expect(load("0.0.0.0:8787", { url: "postgres://db/sb", advertise: "http://10.0.0.5:8787" }).cluster.advertise_url).toBe("http://10.0.0.5:8787");
    expect(load("0.0.0.0:8787", {}).cluster.enabled).toBe(false);
  });
});
