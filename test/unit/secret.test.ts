// The server secret (configured, else generated once into the data dir) and the keys derived from it.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deriveKeys } from "../../src/security/keys.ts";
import { loadOrCreateSecret, SECRET_FILE } from "../../src/security/secret.ts";
import { useTempDirs } from "../support/temp-dir.ts";

const tempDir = useTempDirs("switchboard-secret-");

describe("loadOrCreateSecret", () => {
  test("creates <dataDir>/secret with mode 0600 and at least 32 characters", () => {
    const dataDir = tempDir();
    const secret = loadOrCreateSecret({ dataDir });
    const path = join(dataDir, SECRET_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(readFileSync(path, "utf8").trim()).toBe(secret);
  });

  test("reuses the file on later calls instead of replacing it", () => {
    const dataDir = tempDir();
    const first = loadOrCreateSecret({ dataDir });
    const before = readFileSync(join(dataDir, SECRET_FILE), "utf8");
    expect(loadOrCreateSecret({ dataDir })).toBe(first);
    expect(readFileSync(join(dataDir, SECRET_FILE), "utf8")).toBe(before);
  });

  test("each data dir gets its own random secret", () => {
    expect(loadOrCreateSecret({ dataDir: tempDir() })).not.toBe(loadOrCreateSecret({ dataDir: tempDir() }));
  });

  test("a configured secret wins: it is returned and no file is written", () => {
    const dataDir = tempDir();
    const configured = "c".repeat(40);
    expect(loadOrCreateSecret({ configured, dataDir })).toBe(configured);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  test("a configured secret wins over an existing file", () => {
    const dataDir = tempDir();
    const generated = loadOrCreateSecret({ dataDir });
    const configured = "c".repeat(40);
    expect(loadOrCreateSecret({ configured, dataDir })).toBe(configured);
    expect(configured).not.toBe(generated);
  });

  test("a secret file that is too short is refused with what to do", () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, SECRET_FILE), "short\n", { mode: 0o600 });
    expect(() => loadOrCreateSecret({ dataDir })).toThrow("shorter than 32 characters; delete it");
  });

  test("a data dir that does not exist is an error naming the file", () => {
    const dataDir = join(tempDir(), "missing");
    expect(() => loadOrCreateSecret({ dataDir })).toThrow(`cannot write the server secret to ${join(dataDir, SECRET_FILE)}`);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe("deriveKeys", () => {
  const secret = "s".repeat(43);

  test("gives a different 32-byte key per purpose, none equal to the secret", () => {
    const keys = deriveKeys(secret);
    const all = [keys.tokenHmac, Buffer.from(keys.cookie), keys.encryption];
    for (const k of all) {
      expect(k.length).toBe(32);
      expect(k.equals(Buffer.from(secret).subarray(0, 32))).toBe(false);
    }
    expect(new Set(all.map((k) => k.toString("hex"))).size).toBe(3);
  });

  test("is stable for the same secret", () => {
    const a = deriveKeys(secret);
    const b = deriveKeys(secret);
    expect(a.tokenHmac.equals(b.tokenHmac)).toBe(true);
    expect(Buffer.from(a.cookie).equals(Buffer.from(b.cookie))).toBe(true);
    expect(a.encryption.equals(b.encryption)).toBe(true);
  });

  test("changes every key when the secret changes", () => {
    const a = deriveKeys(secret);
    const b = deriveKeys(secret + "x");
    expect(a.tokenHmac.equals(b.tokenHmac)).toBe(false);
    expect(Buffer.from(a.cookie).equals(Buffer.from(b.cookie))).toBe(false);
    expect(a.encryption.equals(b.encryption)).toBe(false);
  });
});
