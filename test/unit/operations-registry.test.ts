// The operation registry as every face reads it: names and routes are unique, the self server's
// instructions name every tool, and the host caller (the CLI's) is an admin no request can be.
import { describe, expect, test } from "bun:test";
import { roleCeiling } from "../../src/domain/access/permissions.ts";
import { selfInstructions } from "../../src/http/routes/mcp-self.ts";
import { CATALOG, OPERATIONS, OPERATIONS_BY_NAME } from "../../src/operations/index.ts";
import { hostCaller, HOST_USER, mayRun } from "../../src/operations/registry.ts";

describe("OPERATIONS", () => {
  test("each name and each REST route is served once", () => {
    expect(OPERATIONS_BY_NAME.size).toBe(OPERATIONS.length);
    const routes = OPERATIONS.map((op) => `${op.rest.method} ${op.rest.path}`);
    expect(new Set(routes).size).toBe(routes.length);
  });

  test("/mcp/self's instructions, for a caller who may run everything, name every tool the registry holds", () => {
    const host = hostCaller(CATALOG);
    const instructions = selfInstructions(OPERATIONS.filter((op) => mayRun(host, op)));
    for (const op of OPERATIONS) expect(instructions).toContain(op.name);
  });
});

describe("hostCaller", () => {
  test("may run every operation, as an admin, with no key", () => {
    const host = hostCaller(CATALOG);
    expect(host.key).toBeNull();
    expect(host.permissions).toEqual(roleCeiling("admin", CATALOG));
    for (const op of OPERATIONS) expect(mayRun(host, op)).toBe(true);
  });

  test("is not a user id any request can carry: users are user_<uuid>", () => {
    expect(HOST_USER.id).not.toMatch(/^user_/);
    expect(HOST_USER.role).toBe("admin");
  });
});
