// What an upstream lists is checked entry by entry: malformed entries (not an object, no valid name,
// wrong-typed fields the gateway or the admin reads) are dropped with a warning naming them and why,
// names breaking MCP's tool name rule never become tools, and the warnings stay bounded.
import { describe, expect, test } from "bun:test";
import {
  boundWarnings,
  checkedListResult,
  checkPrompts,
  checkResources,
  checkResourceTemplates,
  checkTools,
  MAX_DISCOVERY_WARNINGS,
} from "../../src/gateway/discovery.ts";

const schema = { type: "object" };

describe("checkTools", () => {
  test("keeps valid tools, in order, with every field they carry", () => {
    const tools = [
      { name: "getUser", inputSchema: schema, description: "d", title: "T", annotations: { readOnlyHint: true }, outputSchema: schema, _meta: { x: 1 } },
      { name: "admin.tools.list", inputSchema: schema },
      { name: "DATA_EXPORT_v2", inputSchema: schema },
      { name: "x".repeat(128), inputSchema: schema },
    ];
    const checked = checkTools(tools);
    expect(checked.items).toEqual(tools as never);
    expect(checked.warnings).toEqual([]);
  });

  const dropped: [string, unknown, string][] = [
    ["null", null, "tool #1 dropped: not an object (null)"],
    ["a number", 42, "not an object (number)"],
    ["a string", "x", "not an object (string)"],
    ["an array", [], "not an object (array)"],
    ["an object without a name", {}, "its name is not a string"],
    ["a number as name", { name: 7, inputSchema: schema }, "its name is not a string"],
    ["the wildcard as name", { name: "*", inputSchema: schema }, 'tool "*" dropped: its name breaks MCP\'s tool name rule'],
    ["an empty name", { name: "", inputSchema: schema }, "tool name rule"],
    ["a name with a space", { name: "has space", inputSchema: schema }, 'tool "has space" dropped'],
    ["a name with a slash", { name: "user/update", inputSchema: schema }, "tool name rule"],
    ["a name of 129 characters", { name: "x".repeat(129), inputSchema: schema }, "tool name rule"],
    ["a name with a NUL", { name: "a\u0000b", inputSchema: schema }, "tool name rule"],
    ["no inputSchema", { name: "ok" }, "inputSchema is not an object"],
    ["a string inputSchema", { name: "ok", inputSchema: "nope" }, "inputSchema is not an object"],
    ["an object description", { name: "ok", inputSchema: schema, description: { a: 1 } }, "description is not a string"],
    ["a numeric title", { name: "ok", inputSchema: schema, title: 5 }, "title is not a string"],
    ["string annotations", { name: "ok", inputSchema: schema, annotations: "readOnly" }, "annotations is not an object"],
    ["an array outputSchema", { name: "ok", inputSchema: schema, outputSchema: [] }, "outputSchema is not an object"],
  ];
  for (const [what, entry, warning] of dropped) {
    test(`drops ${what}, with a warning`, () => {
      const checked = checkTools([entry, { name: "kept", inputSchema: schema }]);
      expect(checked.items.map((t) => t.name)).toEqual(["kept"]);
      expect(checked.warnings).toHaveLength(1);
      expect(checked.warnings[0]).toContain(warning);
    });
  }

  test("a second tool of the same name is dropped: a call could not know which one it reaches", () => {
    const checked = checkTools([{ name: "a", inputSchema: schema, description: "first" }, { name: "a", inputSchema: schema, description: "second" }]);
    expect(checked.items.map((t) => t.description)).toEqual(["first"]);
    expect(checked.warnings[0]).toContain("listed twice");
  });

  test("a list that is not an array yields nothing and says so; a missing one yields nothing quietly", () => {
    expect(checkTools({ name: "a" })).toEqual({ items: [], warnings: ["the tool list is not an array; ignored"] });
    expect(checkTools(undefined)).toEqual({ items: [], warnings: [] });
    expect(checkTools(null)).toEqual({ items: [], warnings: [] });
  });

  test("a warning quotes at most 60 characters of a name, JSON-escaped", () => {
    const [warning] = checkTools([{ name: `${"<b>".repeat(100)}\n` }]).warnings;
    expect(warning!.length).toBeLessThan(160);
    expect(warning).not.toContain("\n");
    expect(warning).toContain("…");
  });
});

describe("resources, templates and prompts", () => {
  test("resources need a string uri and name; optional fields their type", () => {
    const checked = checkResources([null, { name: "no uri" }, { uri: 9, name: "n" }, { uri: "a://b", name: 3 }, { uri: "a://c", name: "c", size: "big" }, { uri: "a://ok", name: "ok", mimeType: "text/plain" }]);
    expect(checked.items.map((r) => r.uri)).toEqual(["a://ok"]);
    expect(checked.warnings).toHaveLength(5);
    expect(checked.warnings.join("\n")).toContain("size is not a number");
  });

  test("templates need a string uriTemplate and name", () => {
    const checked = checkResourceTemplates(["t", { name: "no template" }, { uriTemplate: "a://{id}", name: "ok" }]);
    expect(checked.items.map((t) => t.uriTemplate)).toEqual(["a://{id}"]);
    expect(checked.warnings).toHaveLength(2);
  });

  test("prompts need a clean string name and, when given, arguments that are named objects", () => {
    const checked = checkPrompts([
      [],
      { name: 1 },
      { name: "args", arguments: "none" },
      { name: "args2", arguments: [{ required: true }] },
      { name: "bidi\u202eeman" },
      { name: "good", arguments: [{ name: "topic", required: true }] },
    ]);
    expect(checked.items.map((p) => p.name)).toEqual(["good"]);
    expect(checked.warnings).toHaveLength(5);
    expect(checked.warnings.join("\n")).toContain("control or bidi");
  });
});

describe("checkedListResult", () => {
  test("filters the list of a proxied answer and keeps the rest of it", () => {
    const answer = { tools: [null, { name: "*", inputSchema: schema }, { name: "ok", inputSchema: schema }], nextCursor: "2", _meta: { a: 1 } };
    expect(checkedListResult("tools/list", answer)).toEqual({ tools: [{ name: "ok", inputSchema: schema }], nextCursor: "2", _meta: { a: 1 } });
  });

  test("a list that is not an array becomes empty; a cursor that is not a string ends the list", () => {
    expect(checkedListResult("prompts/list", { prompts: "x", nextCursor: 5 })).toEqual({ prompts: [] });
    expect(checkedListResult("resources/list", {})).toEqual({ resources: [] });
  });
});

describe("boundWarnings", () => {
  test("keeps at most MAX_DISCOVERY_WARNINGS, the last one counting the rest", () => {
    const many = Array.from({ length: 500 }, (_, i) => `w${i}`);
    const bounded = boundWarnings(many);
    expect(bounded).toHaveLength(MAX_DISCOVERY_WARNINGS);
    expect(bounded.at(-1)).toBe(`… and ${500 - MAX_DISCOVERY_WARNINGS + 1} more entries dropped`);
    expect(boundWarnings(["a"])).toEqual(["a"]);
  });
});
