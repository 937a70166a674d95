// The store rules (src/db/store.ts) held over src/: no SQLite-only drizzle terminators, no drizzle
// transactions, no tables imported as values from db/schema.ts, and raw bun:sqlite only where listed.
import { describe, expect, test } from "bun:test";
import { Glob } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const SRC = join(import.meta.dir, "../../src");

/** The only files (under src/) that may use the raw SQLite connection, and why each does. */
const RAW_SQLITE: Record<string, string> = {
  "db/client.ts": "opens the connection (pragmas, migrations) and runs drizzle's statements on it",
  "db/store.ts": "the transaction gate runs BEGIN, COMMIT and ROLLBACK on the connection",
  "db/change-probe.ts": "the change probe reads total_changes() and data_version on the connection",
  "cli/commands/backup.ts": "VACUUM INTO, on a connection of its own",
  "compose.ts": "hands the connection to the change probe and to AppDeps",
  "http/context.ts": "AppDeps carries the connection",
  "domain/access/api-keys.ts": "the key verifier's default change probe reads the connection",
  "domain/oauth/authorizations.ts": "the token verifier's default change probe reads the connection",
  "domain/monitoring/recorder.ts": "the usage writer: prepared statements, one synchronous transaction per batch",
  "domain/monitoring/audit.ts": "an audit row is written before record() returns when no transaction is open",
  "db/copy.ts": "db copy reads the source file read-only, in one read transaction, row by row (iterate)",
};

type Violation = { line: number; rule: string };

/**
 * The source with comments, string, template and regex literal text blanked to spaces (line breaks
 * kept, so offsets still give line numbers); the code inside a template's `${…}` stays.
 */
function codeOnly(source: string): string {
  const out = source.split("");
  const blank = (from: number, to: number): void => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  // Each open template literal's brace depth at its `${`, innermost last.
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  let lastSignificant = "";
  const templateText = (start: number): number => {
    // From inside a template's text: up to its closing backtick, or into a `${`.
    let k = start;
    while (k < source.length) {
      if (source[k] === "\\") k += 2;
      else if (source[k] === "`") {
        blank(start, k);
        return k + 1;
      } else if (source[k] === "$" && source[k + 1] === "{") {
        blank(start, k);
        templates.push(depth);
        depth++;
        return k + 2;
      } else k++;
    }
    blank(start, source.length);
    return source.length;
  };
  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      const stop = end === -1 ? source.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end === -1 ? source.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let k = i + 1;
      while (k < source.length && source[k] !== c && source[k] !== "\n") k += source[k] === "\\" ? 2 : 1;
      blank(i + 1, k);
      i = k + 1;
      lastSignificant = c;
    } else if (c === "`") {
      i = templateText(i + 1);
      lastSignificant = "`";
    } else if (c === "/" && (lastSignificant === "" || "(,=:[!&|?{};+-*%<>~^".includes(lastSignificant))) {
      // A regular expression literal: up to its unescaped closing slash (not inside a class).
      let k = i + 1;
      let inClass = false;
      while (k < source.length && source[k] !== "\n") {
        if (source[k] === "\\") k++;
        else if (source[k] === "[") inClass = true;
        else if (source[k] === "]") inClass = false;
        else if (source[k] === "/" && !inClass) break;
        k++;
      }
      blank(i + 1, k);
      i = k + 1;
      lastSignificant = "/";
    } else {
      if (c === "{") depth++;
      else if (c === "}") {
        depth--;
        if (templates.length > 0 && templates[templates.length - 1] === depth) {
          templates.pop();
          i = templateText(i + 1);
          lastSignificant = "`";
          continue;
        }
      }
      if (!/\s/.test(c)) lastSignificant = /[\w$)\]]/.test(c) ? "a" : c;
      i++;
    }
  }
  return out.join("");
}

/** The receiver of the member call whose dot is at `dot`: the chain of names, calls and indexes before it. */
function receiverBefore(code: string, dot: number): string {
  let k = dot - 1;
  const skipSpace = (): void => {
    while (k >= 0 && /\s/.test(code[k]!)) k--;
  };
  for (;;) {
    skipSpace();
    if (k < 0) break;
    const c = code[k]!;
    if (c === ")" || c === "]") {
      const open = c === ")" ? "(" : "[";
      let nesting = 0;
      for (; k >= 0; k--) {
        if (code[k] === c) nesting++;
        else if (code[k] === open && --nesting === 0) break;
      }
      k--;
      continue;
    }
    if (c === "!") {
      k--;
      continue;
    }
    if (/[\w$]/.test(c)) {
      while (k >= 0 && /[\w$]/.test(code[k]!)) k--;
      const end = k;
      skipSpace();
      if (code[k] === ".") {
        k--;
        if (code[k] === "?") k--;
        continue;
      }
      k = end;
    }
    break;
  }
  return code.slice(k + 1, dot).trim();
}

/** A drizzle query builder's chain, or a database handle itself: what the SQLite-only calls must not end. */
function isDrizzleChain(receiver: string): boolean {
  if (/\.\s*(select|selectDistinct|insert|update|delete)\s*\(/.test(receiver)) return true;
  if (/\.\s*query\s*\.\s*[\w$]+\s*\.\s*find(First|Many)\s*\(/.test(receiver)) return true;
  // The handle: `db`, `tx`, `this.db`, `deps.db`, `handle.db` (or a name ending in Db) before any call.
  const names = receiver.split("(")[0]!.split(/\s*\??\.\s*/);
  return names.some((name) => name === "db" || name === "tx" || /Db$/.test(name));
}

function lineAt(source: string, offset: number): number {
  let line = 1;
  for (let k = 0; k < offset; k++) if (source[k] === "\n") line++;
  return line;
}

const transpiler = new Bun.Transpiler({ loader: "ts" });

/** What in one src/ file (path relative to src/) breaks the store rules. */
function violations(path: string, source: string): Violation[] {
  const found: Violation[] = [];
  const code = codeOnly(source);
  const raw = path in RAW_SQLITE;

  for (const m of code.matchAll(/\.\s*(all|get|values|run|transaction)\s*\(/g)) {
    const method = m[1]!;
    const receiver = receiverBefore(code, m.index);
    const noArgs = /^\(\s*\)/.test(code.slice(m.index + m[0].length - 1));
    const line = lineAt(code, m.index);
    if (method === "transaction") {
      // Outside the raw files any `.transaction(` is drizzle's (or a raw connection's, also not allowed there).
      if (!raw || isDrizzleChain(receiver)) found.push({ line, rule: "a transaction is `transaction(db, async (tx) => …)` (src/db/store.ts)" });
      continue;
    }
    // `.values(rows)` is an insert's rows; only the argument-less one is the terminator.
    if (method === "values" && !noArgs) continue;
    const drizzle = isDrizzleChain(receiver);
    // Nothing else in src/ has an argument-less all() or get(); a query held in a variable is caught so.
    if (drizzle || (!raw && noArgs && (method === "all" || method === "get"))) {
      found.push({ line, rule: `.${method}() runs on SQLite only: await the query builder instead` });
    }
  }

  if (!path.startsWith("db/")) {
    for (const imported of transpiler.scanImports(source.replace(/^#!.*/, ""))) {
      if (!/(^|\/)db\/schema(\.ts)?$/.test(imported.path)) continue;
      const at = source.search(new RegExp(`from\\s*["']${imported.path.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}["']`));
      found.push({ line: lineAt(source, Math.max(0, at)), rule: "tables come from `tables(db)`; import schema.ts for types only (`import type`)" });
    }
  }

  if (!raw) {
    for (const m of code.matchAll(/\bsqliteOf\s*\(|\bsqliteFor\s*\(|\.\s*sqlite\b/g)) {
      found.push({ line: lineAt(code, m.index), rule: "raw SQLite outside the allowlist in test/unit/store-rules.test.ts" });
    }
    const bunSqlite = source.search(/from\s*["']bun:sqlite["']/);
    if (bunSqlite !== -1) found.push({ line: lineAt(source, bunSqlite), rule: "bun:sqlite outside the allowlist in test/unit/store-rules.test.ts" });
  }
  return found;
}

/** Whether a file uses the raw SQLite connection at all (an allowlisted file that no longer does should leave the list). */
function usesRawSqlite(source: string): boolean {
  return /from\s*["']bun:sqlite["']/.test(source) || /\bsqliteOf\s*\(|\bsqliteFor\s*\(|\.\s*sqlite\b/.test(codeOnly(source));
}

function srcFiles(): { path: string; source: string }[] {
  return [...new Glob("**/*.{ts,tsx}").scanSync(SRC)].sort().map((path) => ({ path, source: readFileSync(join(SRC, path), "utf8") }));
}

describe("the store rules", () => {
  test("src/ keeps them (each finding names file:line)", () => {
    const findings = srcFiles().flatMap(({ path, source }) => violations(path, source).map((v) => `src/${path}:${v.line}: ${v.rule}`));
    expect(findings).toEqual([]);
  });

  test("every file on the raw SQLite allowlist exists and still uses the connection", () => {
    const files = new Map(srcFiles().map((f) => [f.path, f.source]));
    const stale = Object.keys(RAW_SQLITE).filter((path) => !files.has(path) || !usesRawSqlite(files.get(path)!));
    expect(stale).toEqual([]);
  });

  const lines = (path: string, source: string): number[] => violations(path, source).map((v) => v.line);

  test("finds the SQLite-only terminators on query builders and on the handle, across lines", () => {
    expect(lines("domain/x.ts", "const rows = db.select().from(users).all();")).toEqual([1]);
    expect(lines("domain/x.ts", "const row = tx\n  .select()\n  .from(users)\n  .where(eq(users.id, id))\n  .get();")).toEqual([5]);
    expect(lines("domain/x.ts", "db.insert(users).values(row).run();")).toEqual([1]);
    expect(lines("domain/x.ts", "const v = this.db.select({ id: t.id }).from(t).values();")).toEqual([1]);
    expect(lines("domain/x.ts", "db.run(sql`DELETE FROM users`);")).toEqual([1]);
    expect(lines("domain/x.ts", "const q = db.select().from(users);\nq.all();")).toEqual([2]);
    expect(lines("domain/x.ts", "await db.query.users.findFirst({ where: eq(users.id, id) }).get();")).toEqual([1]);
    // In an allowlisted file too: raw statements are allowed there, drizzle's terminators are not.
    expect(lines("domain/monitoring/recorder.ts", "await db.select().from(t).all();")).toEqual([1]);
  });

  test("leaves alone what only looks like a terminator", () => {
    expect(lines("domain/x.ts", "for (const v of this.sessions.values()) v.close();")).toEqual([]);
    expect(lines("domain/x.ts", "return await command.run(args, io);")).toEqual([]);
    expect(lines("domain/x.ts", "inTransaction.run(store, () => work());")).toEqual([]);
    expect(lines("domain/x.ts", "const rows = await db.select().from(users); // not .all()")).toEqual([]);
    expect(lines("domain/x.ts", 'const text = "db.select().all()";\nconst t = `x ${"y"}.get()`;')).toEqual([]);
    expect(lines("domain/x.ts", "const re = /\\.get\\(\\)/;")).toEqual([]);
    expect(lines("domain/monitoring/recorder.ts", 'sqlite.query("SELECT 1").get(); statement.run(...values);')).toEqual([]);
  });

  test("finds drizzle transactions", () => {
    expect(lines("domain/x.ts", "db.transaction((tx) => {});")).toEqual([1]);
    expect(lines("domain/x.ts", "await tx.transaction(async (inner) => {});")).toEqual([1]);
    expect(lines("domain/x.ts", "await transaction(db, async (tx) => {});")).toEqual([]);
    expect(lines("domain/monitoring/recorder.ts", "this.sqlite.transaction(() => {})();")).toEqual([]);
  });

  test("finds tables imported as values from db/schema.ts, not type imports", () => {
    expect(lines("domain/x.ts", 'import { eq } from "drizzle-orm";\nimport { users } from "../../db/schema.ts";')).toEqual([2]);
    expect(lines("domain/x.ts", 'import * as schema from "../db/schema.ts";')).toEqual([1]);
    expect(lines("domain/x.ts", 'import type { users } from "../../db/schema.ts";')).toEqual([]);
    expect(lines("domain/x.ts", 'import { type users } from "../../db/schema.ts";')).toEqual([]);
    expect(lines("domain/x.ts", 'import { ConfigSchema } from "../config/schema.ts";')).toEqual([]);
    expect(lines("db/client.ts", 'import * as schema from "./schema.ts";')).toEqual([]);
  });

  test("finds raw SQLite outside the allowlist", () => {
    expect(lines("domain/x.ts", 'import type { Database } from "bun:sqlite";')).toEqual([1]);
    expect(lines("domain/x.ts", "const a = 1;\nconst sqlite = sqliteOf(db);")).toEqual([2]);
    expect(lines("domain/x.ts", "createChangeProbe(handle.sqlite, path);")).toEqual([1]);
    expect(lines("domain/monitoring/recorder.ts", 'import type { Database } from "bun:sqlite";\nsqliteOf(db);')).toEqual([]);
  });
});
