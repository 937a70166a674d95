// Permissions: grants and the call rules of DESIGN.md, role ceilings, a key narrowed to its owner's
// current role, and the checks a permissions object passes before it is stored.
import { describe, expect, test } from "bun:test";
import {
  checkPermissions,
  effectivePermissions,
  grants,
  mayCallAgentTool,
  mayCallConnectionTool,
  mayUseManagementTool,
  mayUseResourcesOf,
  PermissionsSchema,
  roleCeiling,
  type ManagementCatalog,
  type Permissions,
} from "../../src/domain/access/permissions.ts";
import { CATALOG, OPERATIONS } from "../../src/operations/index.ts";

const CONN = "conn_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70";
const OTHER_CONN = "conn_7d9f2a34-1c5b-4e8f-a0d2-3b6c9e1f4a85";
const AGENT = "agent_5a1c3e7f-9b2d-4f6a-8c0e-1d3f5b7a9c2e";

/** A small catalog whose member/admin split is known to the test. */
const catalog: ManagementCatalog = { all: ["WHOAMI", "API_KEY_LIST", "API_KEY_CREATE", "USER_CREATE", "USER_DELETE"], forMembers: ["WHOAMI", "API_KEY_LIST", "API_KEY_CREATE"] };

function check(p: Permissions, options: { ceiling?: Permissions; ceilingLabel?: string; exists?: string[] } = {}): string[] {
  return checkPermissions(p, {
    catalog,
    resourceExists: (r) => (options.exists ?? []).includes(r),
    ceiling: options.ceiling ?? roleCeiling("admin", catalog),
    ceilingLabel: options.ceilingLabel ?? "an admin",
  });
}

describe("grants", () => {
  test("holds for a listed action or a wildcard on that resource, and for nothing else", () => {
    const p: Permissions = { self: ["WHOAMI"], [CONN]: ["*"] };
    expect(grants(p, "self", "WHOAMI")).toBe(true);
    expect(grants(p, "self", "USER_CREATE")).toBe(false);
    expect(grants(p, CONN, "anything")).toBe(true);
    expect(grants(p, OTHER_CONN, "anything")).toBe(false);
    expect(grants({}, "self", "WHOAMI")).toBe(false);
  });

  test("names are matched exactly: no case folding, no prefixes", () => {
    const p: Permissions = { self: ["API_KEY_LIST"] };
    expect(grants(p, "self", "api_key_list")).toBe(false);
    expect(grants(p, "self", "API_KEY")).toBe(false);
    expect(grants(p, "SELF", "API_KEY_LIST")).toBe(false);
  });

  test('"*" as a resource is not a wildcard for "self": management needs "self"', () => {
    const everyConnection: Permissions = { "*": ["*"] };
    expect(mayUseManagementTool(everyConnection, "WHOAMI")).toBe(false);
    expect(mayUseManagementTool({ self: ["*"] }, "USER_DELETE")).toBe(true);
    expect(mayUseManagementTool({ self: ["WHOAMI"] }, "USER_DELETE")).toBe(false);
  });
});

describe("connection, agent and resource rules", () => {
  test("a connection tool needs the connection's grant or the any-connection grant", () => {
    expect(mayCallConnectionTool({ [CONN]: ["echo"] }, CONN, "echo")).toBe(true);
    expect(mayCallConnectionTool({ [CONN]: ["echo"] }, CONN, "add")).toBe(false);
    expect(mayCallConnectionTool({ [CONN]: ["echo"] }, OTHER_CONN, "echo")).toBe(false);
    expect(mayCallConnectionTool({ "*": ["echo"] }, OTHER_CONN, "echo")).toBe(true);
    expect(mayCallConnectionTool({ self: ["*"] }, CONN, "echo")).toBe(false);
  });

  test("an agent tool is allowed by its exposed name on the agent, or by the backing connection tool", () => {
    expect(mayCallAgentTool({ [AGENT]: ["search"] }, AGENT, "search", CONN, "search_issues")).toBe(true);
    expect(mayCallAgentTool({ [AGENT]: ["search_issues"] }, AGENT, "search", CONN, "search_issues")).toBe(false);
    expect(mayCallAgentTool({ [CONN]: ["search_issues"] }, AGENT, "search", CONN, "search_issues")).toBe(true);
    expect(mayCallAgentTool({ "*": ["search_issues"] }, AGENT, "search", CONN, "search_issues")).toBe(true);
    expect(mayCallAgentTool({ [OTHER_CONN]: ["*"] }, AGENT, "search", CONN, "search_issues")).toBe(false);
  });

  test('resources and prompts need "*" on the resource or on "*", not a tool name', () => {
    expect(mayUseResourcesOf({ [CONN]: ["*"] }, CONN)).toBe(true);
    expect(mayUseResourcesOf({ "*": ["*"] }, CONN)).toBe(true);
    expect(mayUseResourcesOf({ [CONN]: ["echo"] }, CONN)).toBe(false);
    expect(mayUseResourcesOf({ "*": ["echo"] }, CONN)).toBe(false);
    expect(mayUseResourcesOf({ [OTHER_CONN]: ["*"] }, CONN)).toBe(false);
  });
});

describe("roleCeiling", () => {
  test("an admin may do everything; a member only the member tools (and any connection)", () => {
    expect(roleCeiling("admin", catalog)).toEqual({ self: ["*"], "*": ["*"] });
    const member = roleCeiling("member", catalog);
    expect(member).toEqual({ self: ["WHOAMI", "API_KEY_LIST", "API_KEY_CREATE"], "*": ["*"] });
    expect(member.self).not.toContain("USER_CREATE");
    expect(member.self).not.toContain("*");
  });

  test("the real catalog keeps user management (create, update, delete) from members", () => {
    const member = roleCeiling("member", CATALOG);
    for (const op of OPERATIONS) expect(grants(member, "self", op.name)).toBe(op.forMembers);
    expect(CATALOG.forMembers).not.toContain("USER_CREATE");
    expect(CATALOG.forMembers).not.toContain("USER_UPDATE");
    expect(CATALOG.forMembers).not.toContain("USER_DELETE");
    expect(CATALOG.forMembers).toContain("WHOAMI");
  });
});

describe("effectivePermissions", () => {
  test("an admin owner's key keeps exactly what it was given", () => {
    const p: Permissions = { self: ["*"], [CONN]: ["echo"] };
    expect(effectivePermissions(p, "admin", catalog)).toEqual({ self: ["*"], [CONN]: ["echo"] });
  });

  test('a member owner\'s "self": ["*"] becomes the member tools, never the admin-only ones', () => {
    const narrowed = effectivePermissions({ self: ["*"] }, "member", catalog);
    expect(narrowed).toEqual({ self: ["WHOAMI", "API_KEY_LIST", "API_KEY_CREATE"] });
    expect(mayUseManagementTool(narrowed, "USER_CREATE")).toBe(false);
    expect(mayUseManagementTool(narrowed, "USER_DELETE")).toBe(false);
  });

  test("a member owner's key loses only the admin-only tools it named; other resources stay", () => {
    const p: Permissions = { self: ["USER_CREATE", "WHOAMI"], [CONN]: ["*"] };
    const narrowed = effectivePermissions(p, "member", catalog);
    expect(narrowed).toEqual({ self: ["WHOAMI"], [CONN]: ["*"] });
    // The stored permissions are not changed: promote the owner again and the key is whole.
    expect(p).toEqual({ self: ["USER_CREATE", "WHOAMI"], [CONN]: ["*"] });
    expect(effectivePermissions(p, "admin", catalog)).toEqual(p);
  });

  test('a key with only admin-only tools keeps no "self" entry at all for a member owner', () => {
    const narrowed = effectivePermissions({ self: ["USER_CREATE", "USER_DELETE"], "*": ["*"] }, "member", catalog);
    expect(narrowed).toEqual({ "*": ["*"] });
    expect("self" in narrowed).toBe(false);
  });

  test('a key without "self" is unchanged for a member owner', () => {
    expect(effectivePermissions({ [CONN]: ["echo"] }, "member", catalog)).toEqual({ [CONN]: ["echo"] });
  });
});

describe("checkPermissions", () => {
  test("a valid object within the ceiling has no problems", () => {
    expect(check({ self: ["WHOAMI", "USER_CREATE"] })).toEqual([]);
    expect(check({ self: ["*"], "*": ["*"] })).toEqual([]);
    expect(check({ [CONN]: ["echo"], [AGENT]: ["*"] }, { exists: [CONN, AGENT] })).toEqual([]);
    expect(check({})).toEqual([]);
  });

  test("an unknown management tool is named", () => {
    expect(check({ self: ["WHOAMI", "NOPE"] })).toEqual(['self: unknown management tool "NOPE"']);
  });

  test("a connection or agent that does not exist is named, with what it is", () => {
    expect(check({ [CONN]: ["echo"] })).toEqual([`${CONN}: no such connection`]);
    expect(check({ [AGENT]: ["*"] })).toEqual([`${AGENT}: no such agent`]);
    expect(check({ [CONN]: ["echo"] }, { exists: [OTHER_CONN] })).toEqual([`${CONN}: no such connection`]);
  });

  test("a resource that is neither self, *, conn_<uuid> nor agent_<uuid> is an unknown resource", () => {
    const problems = check({ bogus: ["*"] });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toStartWith("bogus: unknown resource");
    // Near misses are not accepted either.
    expect(check({ "conn_not-a-uuid": ["x"] })[0]).toStartWith("conn_not-a-uuid: unknown resource");
    expect(check({ Self: ["WHOAMI"] })[0]).toStartWith("Self: unknown resource");
  });

  test("asking for more than the ceiling names each offending entry and the ceiling", () => {
    const member = roleCeiling("member", catalog);
    expect(check({ self: ["WHOAMI", "USER_CREATE"] }, { ceiling: member, ceilingLabel: "a member" })).toEqual([
      'self: "USER_CREATE" is more than a member may grant',
    ]);
    expect(check({ self: ["*"] }, { ceiling: member, ceilingLabel: "a member" })).toEqual(['self: "*" is more than a member may grant']);
  });

  test("a key may grant no more than it holds", () => {
    const key: Permissions = { self: ["API_KEY_CREATE", "WHOAMI"] };
    const opts = { ceiling: key, ceilingLabel: "the calling key" };
    expect(check({ self: ["WHOAMI"] }, opts)).toEqual([]);
    expect(check({ self: ["*"] }, opts)).toEqual(['self: "*" is more than the calling key may grant']);
    expect(check({ self: ["API_KEY_LIST"] }, opts)).toEqual(['self: "API_KEY_LIST" is more than the calling key may grant']);
    expect(check({ "*": ["*"] }, opts)).toEqual(['*: "*" is more than the calling key may grant']);
  });

  test("any-connection grants cover a connection's tools; only everything-everywhere covers an agent", () => {
    const exists = [CONN, AGENT];
    expect(check({ [CONN]: ["echo"] }, { ceiling: { "*": ["echo"] }, exists })).toEqual([]);
    expect(check({ [CONN]: ["add"] }, { ceiling: { "*": ["echo"] }, exists, ceilingLabel: "k" })).toEqual([`${CONN}: "add" is more than k may grant`]);
    expect(check({ [CONN]: ["*"] }, { ceiling: { [OTHER_CONN]: ["*"] }, exists, ceilingLabel: "k" })).toEqual([`${CONN}: "*" is more than k may grant`]);
    expect(check({ [AGENT]: ["search"] }, { ceiling: { "*": ["*"] }, exists })).toEqual([]);
    expect(check({ [AGENT]: ["search"] }, { ceiling: { "*": ["search"] }, exists, ceilingLabel: "k" })).toEqual([`${AGENT}: "search" is more than k may grant`]);
  });

  test("every offending entry gets its own problem", () => {
    const problems = check({ self: ["NOPE"], bogus: ["x"], [CONN]: ["echo"] });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toBe('self: unknown management tool "NOPE"');
    expect(problems[1]).toStartWith("bogus: unknown resource");
    expect(problems[2]).toBe(`${CONN}: no such connection`);
  });

  test("an unknown tool is reported once, not also as exceeding the ceiling", () => {
    expect(check({ self: ["NOPE"] }, { ceiling: {}, ceilingLabel: "k" })).toEqual(['self: unknown management tool "NOPE"']);
  });
});

describe("PermissionsSchema", () => {
  test("accepts an object of resource to a non-empty list of action names", () => {
    expect(PermissionsSchema.safeParse({ self: ["WHOAMI"], "*": ["*"] }).success).toBe(true);
    expect(PermissionsSchema.safeParse({ "*": ["admin.tools.list", "DATA_EXPORT_v2", "get-user", "x".repeat(128)] }).success).toBe(true);
    expect(PermissionsSchema.safeParse({}).success).toBe(true);
  });

  const bad: [string, unknown, string][] = [
    ["an array", ["self"], "expected an object"],
    ["a string", "self", "expected an object"],
    ["a string of actions", { self: "*" }, "expected a list of actions"],
    ["an empty action list", { self: [] }, "expected at least one action"],
    ["a number as an action", { self: [1] }, "expected string"],
    ["an action with spaces", { self: ["DROP TABLE"] }, "actions are tool names"],
    // The action rule is MCP's tool name rule (2025-11-25): no "/", at most 128 characters, and "*" only alone.
    ["an action with a slash", { "*": ["user/update"] }, "actions are tool names"],
    ["an action of 129 characters", { "*": ["x".repeat(129)] }, "actions are tool names"],
    ["a wildcard inside a name", { "*": ["get*"] }, "actions are tool names"],
    ["a doubled wildcard", { "*": ["**"] }, "actions are tool names"],
    // zod reports the record-level message for a bad key; either way the resource is named as the problem.
    ["an empty resource name", { "": ["*"] }, "resource"],
  ];
  for (const [name, value, message] of bad) {
    test(`refuses ${name}`, () => {
      const result = PermissionsSchema.safeParse(value);
      expect(result.success).toBe(false);
      expect(result.error!.issues.map((i) => i.message).join("; ")).toContain(message);
    });
  }
});
