// "Try it"'s form from a tool's input schema (views/try-it-fields.ts) and the arguments read back from a
// posted form (src/http/try-it.ts toolArguments): which properties become which fields, what falls back
// to the JSON box, the coercions and their errors, the merge with the JSON box and its conflicts, and a
// hostile schema (names that are markup, "tool", "__proto__", "x[]", hundreds of properties).
import { describe, expect, test } from "bun:test";
import { toolArguments } from "../../src/http/try-it.ts";
import type { AgentDetailView } from "../../src/operations/agent-shapes.ts";
import { TryIt } from "../../views/try-it.tsx";
import { FIELD_PREFIX, MAX_FIELDS, restSummary, tryPlan, type TryPlan } from "../../views/try-it-fields.ts";

const SCHEMA = {
  type: "object",
  properties: {
    message: { type: "string", description: "Message to echo", default: "hi" },
    count: { type: "integer", minimum: 1, maximum: 10, default: 3 },
    ratio: { type: "number" },
    loud: { type: "boolean", default: true },
    location: { type: "string", enum: ["New York", "Chicago"], description: "Choose city" },
    level: { enum: [1, 2, 3] },
    nullable: { type: ["string", "null"] },
    tags: { type: "array", items: { type: "string" } },
    options: { type: "object" },
    either: { anyOf: [{ type: "string" }, { type: "number" }] },
    untyped: {},
    mixed: { enum: ["a", 1] },
  },
  required: ["message", "location", "tags"],
};

const key = (name: string): string => FIELD_PREFIX + encodeURIComponent(name);

/** Arguments from a form given as property → value (JSON box in `arguments`). */
function argsOf(plan: TryPlan, fields: Record<string, string>, json = "{}"): ReturnType<typeof toolArguments> {
  return toolArguments(plan, { tool: "t", arguments: json, ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [key(k), v])) });
}

describe("the plan", () => {
  test("a field per simple property, with its kind, bounds, default, hint and required mark; the rest to the JSON box", () => {
    const plan = tryPlan(SCHEMA);
    expect(plan.jsonOnly).toBe(false);
    const byName = Object.fromEntries(plan.fields.map((f) => [f.name, f]));
    expect(plan.fields.map((f) => [f.name, f.kind])).toEqual([
      ["message", "text"],
      ["count", "integer"],
      ["ratio", "number"],
      ["loud", "boolean"],
      ["location", "choice"],
      ["level", "choice"],
      ["nullable", "text"],
    ]);
    expect(byName.message).toMatchObject({ key: "arg.message", required: true, description: "Message to echo", initial: "hi" });
    expect(byName.count).toMatchObject({ minimum: 1, maximum: 10, initial: "3", required: false });
    expect(byName.loud!.initial).toBe("true");
    expect(byName.location).toMatchObject({ choices: ["New York", "Chicago"], numericChoices: false, required: true, initial: null });
    expect(byName.level).toMatchObject({ choices: ["1", "2", "3"], numericChoices: true });
    expect(plan.rest).toEqual(["tags", "options", "either", "untyped", "mixed"]);
    expect(plan.required).toEqual(["message", "location", "tags"]);
  });

  test("a schema it cannot read is the JSON box alone", () => {
    for (const schema of [null, undefined, { type: "string" }, { type: "object", properties: [] }, { type: "object", properties: "x" }]) {
      expect(tryPlan(schema as Record<string, unknown> | null)).toEqual({ fields: [], rest: [], required: [], jsonOnly: true });
    }
    expect(tryPlan({ type: "object" })).toEqual({ fields: [], rest: [], required: [], jsonOnly: false });
  });

  test("hostile names: namespaced and encoded form names, never tool or arguments; long names and those past the cap go to JSON", () => {
    const long = "n".repeat(101);
    const properties: Record<string, unknown> = {
      tool: { type: "string" },
      arguments: { type: "string" },
      '"><script>alert(1)</script>': { type: "string" },
      "x[]": { type: "string" },
      "a.b": { type: "string" },
      [long]: { type: "string" },
    };
    for (let i = 0; i < 80; i++) properties[`p${i}`] = { type: "string" };
    const plan = tryPlan(JSON.parse(JSON.stringify({ type: "object", properties: { ...properties, ["__proto__"]: { type: "boolean" } } })));
    expect(plan.fields).toHaveLength(MAX_FIELDS);
    const keys = plan.fields.map((f) => f.key);
    expect(keys).not.toContain("tool");
    expect(keys).not.toContain("arguments");
    // No "[]" suffix (the form parser would make it a list); dots are inert (the parser does not nest them).
    expect(keys.every((k) => k.startsWith("arg.") && !k.endsWith("[]") && !/[<>"]/.test(k))).toBe(true);
    expect(keys.slice(0, 5)).toEqual(["arg.tool", "arg.arguments", "arg.%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E", "arg.x%5B%5D", "arg.a.b"]);
    expect(plan.rest[0]).toBe(long);
    expect(plan.rest).toContain("__proto__");
    expect(plan.rest).toHaveLength(87 - MAX_FIELDS);
    expect(restSummary(plan.rest)).toEndWith(`and ${plan.rest.length - 10} more`);
  });

  test("non-object property schemas and bad enums are left to the JSON box", () => {
    const plan = tryPlan({ properties: { a: "string", b: null, c: { enum: [] }, d: { type: "string", enum: [1, 2] }, e: { enum: "x" }, f: { type: "integer", enum: [1, 2] } } });
    expect(plan.rest).toEqual(["a", "b", "c", "d", "e"]);
    expect(plan.fields.map((f) => f.name)).toEqual(["f"]);
  });
});

describe("the arguments", () => {
  const plan = tryPlan(SCHEMA);

  test("coerced from the fields and merged with the JSON box; empty optional fields omitted", () => {
    expect(argsOf(plan, { message: "hello", count: " 4 ", ratio: "", loud: "false", location: "Chicago", level: "2", nullable: "" }, '{"tags": ["a"], "options": {"deep": true}}')).toEqual({
      args: { tags: ["a"], options: { deep: true }, message: "hello", count: 4, loud: false, location: "Chicago", level: 2 },
    });
    // A ticked box sends the hidden "false" then "true": the form reader keeps the last.
    expect(argsOf(plan, { message: "m", location: "Chicago", loud: "true", ratio: "-1.5e2" }, '{"tags": []}')).toEqual({ args: { tags: [], message: "m", location: "Chicago", loud: true, ratio: -150 } });
  });

  test("a form without fields (a client posting JSON alone) is read as the JSON box", () => {
    expect(toolArguments(plan, { tool: "t", arguments: '{"message": "m", "location": "x", "tags": []}' })).toEqual({ args: { message: "m", location: "x", tags: [] } });
    expect(toolArguments(plan, { tool: "t" })).toEqual({ error: "message, location, tags are required." });
  });

  test("bad values get clear errors", () => {
    const base = { message: "m", location: "Chicago" };
    const json = '{"tags": []}';
    for (const [fields, error] of [
      [{ count: "3.5" }, "count must be an integer."],
      [{ count: "three" }, "count must be a number."],
      [{ count: "0x10" }, "count must be a number."],
      [{ ratio: "Infinity" }, "ratio must be a number."],
      [{ count: "0" }, "count must be at least 1."],
      [{ count: "11" }, "count must be at most 10."],
      [{ location: "Paris" }, "location must be one of: New York, Chicago."],
      [{ level: "4" }, "level must be one of: 1, 2, 3."],
      [{ loud: "yes" }, "loud must be true or false."],
    ] as const) {
      expect(argsOf(plan, { ...base, ...fields }, json)).toEqual({ error });
    }
    expect(argsOf(plan, { location: "Chicago", message: "" }, json)).toEqual({ error: "message is required." });
    expect(argsOf(plan, { message: "m" }, "{}")).toEqual({ error: "location, tags are required." });
    expect(argsOf(plan, base, "{nope")).toEqual({ error: "The arguments are not valid JSON." });
    expect(argsOf(plan, base, "[1]")).toEqual({ error: "The arguments must be a JSON object." });
  });

  test("a property in both its field and the JSON box must agree: a conflict is refused, an agreement is fine", () => {
    expect(argsOf(plan, { message: "a", location: "Chicago" }, '{"message": "b", "tags": []}')).toEqual({
      error: "message is given both in its field and in the JSON box, with different values: keep one.",
    });
    expect(argsOf(plan, { message: "a", location: "Chicago", loud: "false" }, '{"loud": true, "tags": []}')).toEqual({
      error: "loud is given both in its field and in the JSON box, with different values: keep one.",
    });
    expect(argsOf(plan, { message: "a", location: "Chicago", count: "2" }, '{"count": 2, "tags": []}')).toEqual({ args: { count: 2, tags: [], message: "a", location: "Chicago" } });
    // An empty field leaves the JSON box's value alone.
    expect(argsOf(plan, { message: "", location: "Chicago" }, '{"message": "from json", "tags": []}')).toEqual({ args: { message: "from json", tags: [], location: "Chicago" } });
  });

  test("hostile names stay ordinary properties: __proto__ from a field, tool and arguments as arguments", () => {
    const hostile = tryPlan(JSON.parse('{"properties": {"__proto__": {"type": "string"}, "tool": {"type": "string"}, "arguments": {"type": "string"}, "x[]": {"type": "string"}}}'));
    expect(hostile.fields.map((f) => f.name)).toEqual(["__proto__", "tool", "arguments", "x[]"]);
    const fields = Object.fromEntries([["__proto__", "p"], ["tool", "named tool"], ["arguments", "named arguments"], ["x[]", "brackets"]]) as Record<string, string>;
    const built = argsOf(hostile, fields);
    expect("args" in built).toBe(true);
    const args = (built as { args: Record<string, unknown> }).args;
    expect(Object.getPrototypeOf(args)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(args, "__proto__")?.value).toBe("p");
    expect([args.tool, args.arguments, args["x[]"]]).toEqual(["named tool", "named arguments", "brackets"]);
  });
});

describe("booleans: an optional flag may be left out, a required one is a checkbox", () => {
  const flags = { type: "object", properties: { query: { type: "string" }, dry_run: { type: "boolean" }, force: { type: "boolean" } }, required: ["query", "force"] };
  const plan = tryPlan(flags);

  test("an optional flag is a select of (not set), true and false; a required one keeps the checkbox and its hidden false", () => {
    const a = { id: "agent_1", tools: [{ name: "search", description: null, input_schema: flags, missing: false }] } as unknown as AgentDetailView;
    const html = String(TryIt({ a }));
    expect(html).toContain('<select id="try-0-f1" name="arg.dry_run"><option value="">(not set)</option><option value="true">true</option><option value="false">false</option></select>');
    expect(html).not.toContain('<input type="hidden" name="arg.dry_run"');
    expect(html).toContain('<input type="hidden" name="arg.force" value="false"/>');
    expect(html).toContain('<input type="checkbox" id="try-0-f2" name="arg.force" value="true"/>');
    // A default preselects its value.
    const withDefault = { ...flags, properties: { ...flags.properties, dry_run: { type: "boolean", default: false } } };
    const b = { id: "agent_1", tools: [{ name: "search", description: null, input_schema: withDefault, missing: false }] } as unknown as AgentDetailView;
    expect(String(TryIt({ a: b }))).toContain('<option value="false" selected="">false</option>');
  });

  test("an untouched optional flag (its select's empty value) is left out of the arguments, as the schema allows", () => {
    const form = { tool: "search", arguments: "{}", "arg.query": "x", "arg.dry_run": "", "arg.force": "false" };
    expect(toolArguments(plan, form)).toEqual({ args: { query: "x", force: false } });
  });

  test("a flag given in the JSON box is not refused because of its untouched field", () => {
    const form = { tool: "search", arguments: '{"dry_run": true}', "arg.query": "x", "arg.dry_run": "", "arg.force": "false" };
    expect(toolArguments(plan, form)).toEqual({ args: { dry_run: true, query: "x", force: false } });
  });

  test("true and false chosen in the select reach the tool; a required flag left empty is missing", () => {
    expect(toolArguments(plan, { tool: "s", arguments: "{}", "arg.query": "x", "arg.dry_run": "false", "arg.force": "true" })).toEqual({ args: { query: "x", dry_run: false, force: true } });
    expect(toolArguments(plan, { tool: "s", arguments: "{}", "arg.query": "x", "arg.dry_run": "true", "arg.force": "false" })).toEqual({ args: { query: "x", dry_run: true, force: false } });
    expect(toolArguments(plan, { tool: "s", arguments: "{}", "arg.query": "x", "arg.force": "" })).toEqual({ error: "force is required." });
    expect(toolArguments(plan, { tool: "s", arguments: "{}", "arg.query": "x", "arg.dry_run": "maybe", "arg.force": "true" })).toEqual({ error: "dry_run must be true or false." });
  });
});
