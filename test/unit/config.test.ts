// The config loader: units, defaults, where the file comes from, ${VAR} interpolation, and errors
// that name the key path, report every problem at once and never echo a secret.
import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, parseConfig, withPublicUrl, type Config } from "../../src/config/load.ts";
import { renderEffectiveConfig } from "../../src/config/describe.ts";
import { parseDuration, parseSize } from "../../src/config/units.ts";
import { useTempDirs } from "../support/temp-dir.ts";
import { configErrorOf, problemsOf } from "../support/errors.ts";

const tempDir = useTempDirs("switchboard-config-");
const SECRET = "correct-horse-battery-staple-0123456789";

function parse(raw: unknown, env: Record<string, string> = {}): Config {
  return parseConfig(raw, { source: "test.toml", env, baseDir: "/srv/switchboard" });
}

/** Writes `text` as a config file in a fresh directory and returns its path. */
function writeConfig(text: string, name = "switchboard.toml"): string {
  const path = join(tempDir(), name);
  writeFileSync(path, text);
  return path;
}

describe("parseDuration", () => {
  test.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["15m", 900_000],
    ["12h", 43_200_000],
    ["30d", 2_592_000_000],
    ["1.5s", 1_500],
    ["0s", 0],
    [" 30s ", 30_000],
  ])("reads %p as %p ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  test.each(["", "30", "s", "-1s", "30sec", "1w", "30S", "1e3s", "thirty seconds", "1h30m"])("rejects %p", (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});

describe("bounds of durations and sizes", () => {
  test("a number too large to hold exactly is no duration or size at all (never Infinity)", () => {
    const huge = "9".repeat(400);
    expect(parseDuration(`${huge}s`)).toBeNull();
    expect(parseDuration(`${huge}.5ms`)).toBeNull();
    expect(parseSize(`${huge}GiB`)).toBeNull();
    expect(parseDuration("1e400s")).toBeNull();
    expect(parseDuration("104249991374d")).toBeNull(); // past Number.MAX_SAFE_INTEGER ms
  });

  // Each duration has its own maximum, at most the ~24.8-day timer limit: past it a timer fires at once.
  const limits: [string, Record<string, unknown>, string, string][] = [
    ["gateway.call_timeout", { gateway: { call_timeout: "25d" } }, "24h", "25d"],
    ["gateway.connect_timeout", { gateway: { connect_timeout: "11m" } }, "10m", "11m"],
    ["gateway.session_idle_timeout", { gateway: { session_idle_timeout: "8d" } }, "7d", "8d"],
    ["security.session_ttl", { security: { session_ttl: "366d" } }, "365d", "366d"],
    ["security.login_window", { security: { login_window: "25h" } }, "24h", "25h"],
    ["server.shutdown_timeout", { server: { shutdown_timeout: "2h" } }, "1h", "2h"],
    ["database.busy_timeout", { database: { busy_timeout: "1h" } }, "10m", "1h"],
    ["connections[0].call_timeout", { connections: [{ slug: "a", url: "https://a.example/mcp", call_timeout: "30d" }] }, "24h", "30d"],
    ["connections[0].connect_timeout", { connections: [{ slug: "a", url: "https://a.example/mcp", connect_timeout: "1h" }] }, "10m", "1h"],
  ];
  for (const [key, raw, max, given] of limits) {
    test(`${key} above ${max} is refused, naming the key and the limit`, () => {
      expect(problemsOf(() => parse(raw))).toEqual([`${key}: expected at most ${max}, got "${given}"`]);
    });
  }

  test("the largest allowed values are accepted", () => {
    const config = parse({
      gateway: { call_timeout: "24h", connect_timeout: "10m", session_idle_timeout: "7d" },
      security: { session_ttl: "365d", login_window: "24h" },
      server: { shutdown_timeout: "1h" },
      connections: [{ slug: "a", url: "https://a.example/mcp", call_timeout: "24h", connect_timeout: "10m" }],
    });
    expect(config.gateway.call_timeout).toBe(86_400_000);
    expect(config.security.session_ttl).toBe(365 * 86_400_000);
    expect(config.connections[0]!.call_timeout).toBe(86_400_000);
  });
});

describe("text in the config file", () => {
  test("names and titles refuse control characters and bidi overrides, naming the key", () => {
    const problems = problemsOf(() =>
      parse({
        connections: [{ slug: "a", url: "https://a.example/mcp", title: "evil\u202eexe", description: "nul\u0000" }],
        agents: [{ slug: "b", title: "two\nlines", instructions: "\u001b[2J", tools: { a: [{ name: "x", description: "a\u2066b" }] } }],
      }),
    );
    expect(problems.sort()).toEqual([
      "agents[0].instructions: cannot contain control characters other than line breaks and tabs, or bidirectional overrides",
      "agents[0].title: cannot contain control characters (line breaks, tabs, NUL) or bidirectional overrides",
      "agents[0].tools.a[0].description: cannot contain control characters other than line breaks and tabs, or bidirectional overrides",
      "connections[0].description: cannot contain control characters other than line breaks and tabs, or bidirectional overrides",
      "connections[0].title: cannot contain control characters (line breaks, tabs, NUL) or bidirectional overrides",
    ]);
  });

  test("descriptions and instructions keep line breaks and tabs", () => {
    const config = parse({
      connections: [{ slug: "a", url: "https://a.example/mcp", description: "one\ntwo\r\n\tthree" }],
      agents: [{ slug: "b", instructions: "Step 1.\nStep 2.", tools: { a: ["x"] } }],
    });
    expect(config.connections[0]!.description).toBe("one\ntwo\r\n\tthree");
    expect(config.agents[0]!.instructions).toBe("Step 1.\nStep 2.");
  });
});

describe("parseSize", () => {
  test.each([
    ["512B", 512],
    ["64KiB", 65_536],
    ["4MiB", 4_194_304],
    ["1GiB", 1_073_741_824],
    ["1KB", 1_000],
    ["1GB", 1_000_000_000],
    ["1.5KiB", 1_536],
  ])("reads %p as %p bytes", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  test.each(["", "4", "MiB", "-1B", "4mib", "4TiB", "4 MiBs", "four MiB"])("rejects %p", (text) => {
    expect(parseSize(text)).toBeNull();
  });

  test("units reach the parsed config converted, and bad ones name their key", () => {
    const config = parse({ server: { max_body_size: "64KiB", shutdown_timeout: "2s" }, security: { session_ttl: "30m" } });
    expect(config.server.max_body_size).toBe(65_536);
    expect(config.server.shutdown_timeout).toBe(2_000);
    expect(config.security.session_ttl).toBe(1_800_000);
    expect(problemsOf(() => parse({ security: { session_ttl: "forever" }, server: { max_body_size: "4 parsecs" } })).sort()).toEqual([
      'security.session_ttl: expected a duration such as "30s" or "12h", got "forever"',
      'server.max_body_size: expected a size such as "512KiB" or "4MiB", got "4 parsecs"',
    ]);
  });

  test("gateway.max_response_size: 32 MiB by default, read as bytes, at least 1 KiB", () => {
    expect(parse({}).gateway.max_response_size).toBe(32 * 1024 * 1024);
    expect(parse({ gateway: { max_response_size: "64KiB" } }).gateway.max_response_size).toBe(65_536);
    expect(problemsOf(() => parse({ gateway: { max_response_size: "10B" } }))).toEqual(['gateway.max_response_size: expected at least 1024 bytes, got "10B"']);
    expect(problemsOf(() => parse({ gateway: { max_response_size: "lots" } }))).toEqual(['gateway.max_response_size: expected a size such as "512KiB" or "4MiB", got "lots"']);
  });
});

describe("defaults", () => {
  test("with no file anywhere, the built-in defaults serve and the data dir is ./data under the cwd", () => {
    const cwd = tempDir();
    const config = loadConfig({ env: {}, cwd });
    expect(config.source).toBeNull();
    expect(config.server.listen).toBe("127.0.0.1:8787");
    expect(config.server.host).toBe("127.0.0.1");
    expect(config.server.port).toBe(8787);
    expect(config.server.public_url).toBe("http://127.0.0.1:8787");
    expect(config.database.path).toBe(join(cwd, "data", "switchboard.db"));
    expect(config.dataDir).toBe(join(cwd, "data"));
    expect(config.security.secret).toBeUndefined();
    expect(config.security.session_ttl).toBe(12 * 3_600_000);
    expect(config.security.login_max_per_account).toBe(5);
  });

  test("./switchboard.toml in the cwd is used when neither flag nor env names a file", () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "switchboard.toml"), '[server]\nlisten = "127.0.0.1:9001"\n');
    const config = loadConfig({ env: {}, cwd });
    expect(config.source).toBe(join(cwd, "switchboard.toml"));
    expect(config.server.port).toBe(9001);
  });

  test("an IPv6 listen address gives a bracketed public URL and a bare host", () => {
    const config = parse({ server: { listen: "[::1]:8080" } });
    expect(config.server.host).toBe("::1");
    expect(config.server.port).toBe(8080);
    expect(config.server.public_url).toBe("http://[::1]:8080");
  });
});

describe("validation", () => {
  test("an unknown nested key is named by its path", () => {
    const path = writeConfig('[server]\nlisten = "127.0.0.1:8787"\nfoo = 1\n');
    expect(problemsOf(() => loadConfig({ flag: path, env: {}, cwd: tempDir() }))).toEqual(["server.foo: unknown key"]);
  });

  test("an unknown top-level key or section is named", () => {
    expect(problemsOf(() => parse({ bar: 1 }))).toEqual(["bar: unknown key"]);
    expect(problemsOf(() => parse({ servers: { listen: "127.0.0.1:1" } }))).toEqual(["servers: unknown key"]);
  });

  test("a wrong type says what was expected and what was given", () => {
    expect(problemsOf(() => parse({ server: { listen: 8787 } }))).toEqual(["server.listen: expected string, got number 8787"]);
    expect(problemsOf(() => parse({ server: { log_level: "loud" } }))).toEqual([
      'server.log_level: expected one of "debug", "info", "warn", "error", got "loud"',
    ]);
    expect(problemsOf(() => parse({ security: { login_max_per_ip: 0 } }))).toEqual(["security.login_max_per_ip: expected number to be >=1, got number 0"]);
  });

  test.each(["abc", "127.0.0.1", ":8787", "127.0.0.1:99999", "http://127.0.0.1:8787"])("listen %p is refused with the expected form", (listen) => {
    expect(problemsOf(() => parse({ server: { listen } }))).toEqual([`server.listen: expected "host:port", got ${JSON.stringify(listen)}`]);
  });

  test("every problem is reported at once, one line each", () => {
    const path = writeConfig(
      [
        "top = true",
        "[server]",
        'listen = "abc"',
        'max_body_size = "huge"',
        'log_level = "loud"',
        "foo = 1",
        "[security]",
        'secret = "${UNSET_SECRET}"',
        "login_max_per_account = 0",
      ].join("\n"),
    );
    const err = configErrorOf(() => loadConfig({ flag: path, env: {}, cwd: tempDir() }));
    expect(err.message).toBe(err.problems.join("\n"));
    expect([...err.problems].sort()).toEqual([
      "security.login_max_per_account: expected number to be >=1, got number 0",
      "security.secret: environment variable UNSET_SECRET is not set",
      'server.listen: expected "host:port", got "abc"',
      'server.log_level: expected one of "debug", "info", "warn", "error", got "loud"',
      'server.max_body_size: expected a size such as "512KiB" or "4MiB", got "huge"',
      "server.foo: unknown key",
      "top: unknown key",
    ].sort());
  });
});

describe("${VAR} interpolation", () => {
  test("a set variable is substituted, also several in one value", () => {
    const config = parse(
      { server: { listen: "${HOST}:${PORT}" }, security: { secret: "${SWITCHBOARD_SECRET}" } },
      { HOST: "0.0.0.0", PORT: "9000", SWITCHBOARD_SECRET: SECRET },
    );
    expect(config.server.listen).toBe("0.0.0.0:9000");
    expect(config.server.port).toBe(9000);
    expect(config.security.secret).toBe(SECRET);
  });

  test("an unset variable is named with the key path, once, and no validation error piles on", () => {
    expect(problemsOf(() => parse({ security: { secret: "${SWITCHBOARD_SECRET}" } }))).toEqual([
      "security.secret: environment variable SWITCHBOARD_SECRET is not set",
    ]);
    expect(problemsOf(() => parse({ server: { listen: "${HOST}:8787" } }, { OTHER: "x" }))).toEqual([
      "server.listen: environment variable HOST is not set",
    ]);
  });

  test("an empty variable counts as set", () => {
    expect(problemsOf(() => parse({ server: { listen: "${HOST}:8787" } }, { HOST: "" }))).toEqual([
      'server.listen: expected "host:port", got ":8787"',
    ]);
  });

  test("$$ is a literal dollar and stops interpolation", () => {
    const config = parse({ database: { path: "./a$$b/$${HOME}/db.sqlite" } }, { HOME: "/root" });
    expect(config.database.path).toBe("/srv/switchboard/a$b/${HOME}/db.sqlite");
  });
});

describe("finding the file", () => {
  test("a missing file given by --config is an error naming the path", () => {
    const cwd = tempDir();
    expect(problemsOf(() => loadConfig({ flag: "missing.toml", env: {}, cwd }))).toEqual([
      `${join(cwd, "missing.toml")}: cannot read config file (no such file)`,
    ]);
  });

  test("a missing file given by SWITCHBOARD_CONFIG is an error naming the path", () => {
    const cwd = tempDir();
    expect(problemsOf(() => loadConfig({ env: { SWITCHBOARD_CONFIG: "nope/sb.toml" }, cwd }))).toEqual([
      `${join(cwd, "nope/sb.toml")}: cannot read config file (no such file)`,
    ]);
  });

  test("an unreadable file (here a directory) is an error naming the path", () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, "dir.toml"));
    const problems = problemsOf(() => loadConfig({ flag: "dir.toml", env: {}, cwd }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith(`${join(cwd, "dir.toml")}: cannot read config file (`);
    expect(problems[0]).not.toContain("no such file");
  });

  test("--config wins over SWITCHBOARD_CONFIG, which wins over ./switchboard.toml", () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "switchboard.toml"), '[server]\nlisten = "127.0.0.1:1001"\n');
    writeFileSync(join(cwd, "env.toml"), '[server]\nlisten = "127.0.0.1:1002"\n');
    writeFileSync(join(cwd, "flag.toml"), '[server]\nlisten = "127.0.0.1:1003"\n');
    expect(loadConfig({ env: {}, cwd }).server.port).toBe(1001);
    expect(loadConfig({ env: { SWITCHBOARD_CONFIG: "env.toml" }, cwd }).server.port).toBe(1002);
    expect(loadConfig({ flag: "flag.toml", env: { SWITCHBOARD_CONFIG: "env.toml" }, cwd }).server.port).toBe(1003);
  });

  test("invalid TOML is one problem naming the file", () => {
    const path = writeConfig('[server\nlisten = "127.0.0.1:8787"\n');
    const problems = problemsOf(() => loadConfig({ flag: path, env: {}, cwd: tempDir() }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith(`${path}: not valid TOML (`);
  });

  test("a relative database.path is read from the config file's directory, not the cwd", () => {
    const confDir = join(tempDir(), "conf");
    mkdirSync(confDir);
    writeFileSync(join(confDir, "switchboard.toml"), '[database]\npath = "./db/sb.sqlite"\n');
    const cwd = tempDir();
    const config = loadConfig({ flag: join(confDir, "switchboard.toml"), env: {}, cwd });
    expect(config.database.path).toBe(join(confDir, "db", "sb.sqlite"));
    expect(config.dataDir).toBe(join(confDir, "db"));
  });

  test("an absolute database.path is kept", () => {
    expect(parse({ database: { path: "/var/lib/sb/sb.db" } }).dataDir).toBe("/var/lib/sb");
  });
});

describe("secrets are never echoed", () => {
  test("a too-short secret, in the file or from a variable, is refused without showing it", () => {
    const short = "hunter2-but-longer";
    for (const problems of [
      problemsOf(() => parse({ security: { secret: short } })),
      problemsOf(() => parse({ security: { secret: "${S}" } }, { S: short })),
    ]) {
      expect(problems).toEqual(["security.secret: expected at least 32 characters, got a value (hidden)"]);
      expect(problems.join("\n")).not.toContain(short);
    }
  });

  test("a secret of the wrong type is refused without showing it", () => {
    const problems = problemsOf(() => parse({ security: { secret: 8675309 } }));
    expect(problems).toEqual(["security.secret: expected string, got a value (hidden)"]);
    expect(problems.join("\n")).not.toContain("8675309");
  });

  test("renderEffectiveConfig masks a secret given in the file or through a variable", () => {
    for (const config of [
      parse({ security: { secret: SECRET } }),
      parse({ security: { secret: "${SB_SECRET}" } }, { SB_SECRET: SECRET }),
    ]) {
      const text = renderEffectiveConfig(config, { secretSource: "unused" });
      expect(text).not.toContain(SECRET);
      expect(text).toContain('secret = "********"  # set in the config');
    }
  });

  test("renderEffectiveConfig masks the metrics token but shows token lifetimes", () => {
    const text = renderEffectiveConfig(parse({ metrics: { token: "metrics-token-0123456789" }, oauth: { access_token_ttl: "2h" } }), { secretSource: "unused" });
    expect(text).not.toContain("metrics-token-0123456789");
    expect(text).toContain('token = "********"');
    expect(text).toContain('access_token_ttl = "2h"');
    expect(text).toContain('refresh_token_ttl = "30d"  # default');
  });

  test("renderEffectiveConfig shows values, defaults and derived paths, and where the secret comes from", () => {
    const config = parse({ server: { listen: "0.0.0.0:9000" }, database: { path: "db/sb.db" } });
    const text = renderEffectiveConfig(config, { secretSource: "generated into the data dir" });
    expect(text).toStartWith("# source: test.toml\n");
    expect(text).toContain('listen = "0.0.0.0:9000"\n');
    expect(text).toContain('public_url = "http://0.0.0.0:9000"\n');
    expect(text).toContain('path = "/srv/switchboard/db/sb.db"\n');
    expect(text).toContain('log_level = "info"  # default\n');
    expect(text).toContain('secret = "********"  # generated into the data dir\n');
    expect(Bun.TOML.parse(text)).toMatchObject({ server: { listen: "0.0.0.0:9000" }, security: { secret: "********" } });
  });
});

describe("the config is immutable once built", () => {
  test("every table and list is frozen; withPublicUrl gives a frozen copy and leaves the original as it was", () => {
    const config = parse({ server: { listen: "127.0.0.1:0" }, connections: [{ slug: "a", url: "https://a.example/mcp", headers: { "X-Key": "v" } }] });
    for (const part of [config, config.server, config.security, config.gateway, config.database, config.input, config.connections, config.connections[0]!, config.connections[0]!.headers]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (config.server as { public_url: string }).public_url = "http://evil.example";
    }).toThrow(TypeError);
    expect(() => (config.connections as unknown[]).push({})).toThrow(TypeError);
    expect(config.server.public_url).toBe("http://127.0.0.1:0");

    const resolved = withPublicUrl(config, "http://127.0.0.1:41234");
    expect(resolved.server.public_url).toBe("http://127.0.0.1:41234");
    expect(Object.isFrozen(resolved) && Object.isFrozen(resolved.server)).toBe(true);
    expect({ ...resolved, server: { ...resolved.server, public_url: config.server.public_url } }).toEqual(config);
    expect(config.server.public_url).toBe("http://127.0.0.1:0");
  });
});

describe("[[connections]] with OAuth", () => {
  const CLIENT_SECRET = "cs-Sup3rSecret-from-env";
  const oauth = (extra: Record<string, unknown>) => ({ connections: [{ slug: "linear", url: "https://mcp.linear.app/mcp", auth: "oauth", ...extra }] });

  test("auth, oauth_mode, a client id, its secret from ${VAR} and scopes are read as given; a static connection needs none", () => {
    const config = parse(oauth({ oauth_mode: "per_user", oauth_client_id: "client-1", oauth_client_secret: "${LINEAR_SECRET}", oauth_scopes: "read write" }), { LINEAR_SECRET: CLIENT_SECRET });
    expect(config.connections[0]).toMatchObject({ auth: "oauth", oauth_mode: "per_user", oauth_client_id: "client-1", oauth_client_secret: CLIENT_SECRET, oauth_scopes: "read write" });
    expect(parse(oauth({})).connections[0]!.oauth_mode).toBeUndefined();
    expect(parse({ connections: [{ slug: "a", url: "https://a.example/mcp" }] }).connections[0]!.auth).toBe("static");
  });

  test("the OAuth rules name each key path, every problem at once", () => {
    expect(
      problemsOf(() =>
        parse({
          connections: [
            { slug: "a", command: "npx", auth: "oauth" },
            { slug: "b", url: "https://b.example/mcp", auth: "oauth", token: "t", headers: { Authorization: "Bearer x" } },
            { slug: "c", url: "https://c.example/mcp", auth: "oauth", oauth_client_secret: "s" },
            { slug: "d", url: "https://d.example/mcp", auth: "oauth", oauth_scopes: 'repo "all"', oauth_mode: "everyone" },
            { slug: "e", url: "https://e.example/mcp", oauth_scopes: "repo", oauth_client_id: "x" },
            { slug: "f", url: "https://f.example/mcp", auth: "basic" },
          ],
        }),
      ).sort(),
    ).toEqual(
      [
        "connections[0].auth: only http and sse connections sign in with OAuth",
        "connections[1].token: an OAuth connection sends the token it signs in for: remove the static token",
        "connections[1].headers.Authorization: an OAuth connection sends its own Authorization header",
        "connections[2].oauth_client_secret: a client secret needs its client id (oauth_client_id)",
        'connections[3].oauth_scopes: expected scope tokens separated by single spaces, e.g. "repo read:org" (no quotes, backslashes or other spaces)',
        'connections[3].oauth_mode: expected one of "shared", "per_user", got "everyone"',
        'connections[4].oauth_scopes: only connections with auth = "oauth" take this',
        'connections[4].oauth_client_id: only connections with auth = "oauth" take this',
        'connections[5].auth: expected one of "static", "oauth", got "basic"',
      ].sort(),
    );
  });

  test("a client secret with a bad character is refused without showing it; the effective config masks it", () => {
    const refused = problemsOf(() => parse(oauth({ oauth_client_id: "c", oauth_client_secret: `${CLIENT_SECRET}\n` })));
    expect(refused).toEqual(["connections[0].oauth_client_secret: a client secret is printable ASCII characters"]);
    expect(refused.join("\n")).not.toContain(CLIENT_SECRET);
    const text = renderEffectiveConfig(parse(oauth({ oauth_client_id: "client-1", oauth_client_secret: CLIENT_SECRET })), { secretSource: "x" });
    expect(text).not.toContain(CLIENT_SECRET);
    expect(text).toContain("client-1");
    expect((Bun.TOML.parse(text) as { connections: Record<string, unknown>[] }).connections[0]).toMatchObject({ auth: "oauth", oauth_client_secret: "********" });
  });
});
