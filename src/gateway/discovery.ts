// What an upstream sends in its lists (tools, resources, resource templates, prompts) is untrusted:
// this module keeps only well-formed entries and says what it dropped and why. A malformed entry
// would otherwise crash every page and operation that reads the discovery cache, and a tool named
// "*" (or any name outside MCP's tool name rule) could never be granted on its own: it would match
// the wildcard in a key's permissions, or show up as a checkbox that grants everything.
import type { Prompt, Resource, ResourceTemplate, Tool } from "@modelcontextprotocol/sdk/types.js";
import { TOOL_NAME } from "../domain/agents/tools.ts";
import { singleLineProblem } from "../domain/text.ts";

/** Most warnings kept per discovery: a hostile upstream cannot grow them without bound. */
export const MAX_DISCOVERY_WARNINGS = 50;
/** Longest name quoted in a warning. */
const QUOTED_NAME_MAX = 60;
/** Longest prompt name, resource name or URI accepted (MCP sets no limit; the admin must show them). */
const NAME_MAX = 256;
const URI_MAX = 4096;

/** The well-formed entries of one list and one warning per dropped entry. */
export type Checked<T> = { items: T[]; warnings: string[] };

type Entry = Record<string, unknown>;
/** Why an entry is refused, or null when it is well-formed. */
type Check = (entry: Entry) => string | null;

function isObject(value: unknown): value is Entry {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A name as a warning quotes it: JSON-escaped and cut short. */
function quoted(name: unknown): string {
  const text = typeof name === "string" ? name : JSON.stringify(name) ?? String(name);
  return JSON.stringify(text.length > QUOTED_NAME_MAX ? `${text.slice(0, QUOTED_NAME_MAX)}…` : text);
}

function textProblem(entry: Entry, field: string, options: { required: boolean; max?: number }): string | null {
  const value = entry[field];
  if (value === undefined && !options.required) return null;
  if (typeof value !== "string" || value === "") return `${field} is not a non-empty string`;
  if (options.max !== undefined && value.length > options.max) return `${field} is longer than ${options.max} characters`;
  return null;
}

/** Optional fields that must have a given JSON type when present. */
function optionalTypes(entry: Entry, fields: Record<string, "string" | "object" | "array" | "number">): string | null {
  for (const [field, type] of Object.entries(fields)) {
    const value = entry[field];
    if (value === undefined) continue;
    const ok = type === "object" ? isObject(value) : type === "array" ? Array.isArray(value) : typeof value === type;
    if (!ok) return `${field} is not ${type === "array" || type === "object" ? "an" : "a"} ${type}`;
  }
  return null;
}

const checkTool: Check = (t) => {
  if (typeof t.name !== "string") return "its name is not a string";
  // MCP 2025-11-25, server/tools "Tool names": 1-128 of A-Z a-z 0-9 _ - . and nothing else.
  if (!TOOL_NAME.test(t.name)) return "its name breaks MCP's tool name rule (1-128 of A-Z a-z 0-9 _ - .)";
  if (!isObject(t.inputSchema)) return "inputSchema is not an object";
  return optionalTypes(t, { title: "string", description: "string", outputSchema: "object", annotations: "object", icons: "array", _meta: "object" });
};

const checkResource: Check = (r) =>
  textProblem(r, "uri", { required: true, max: URI_MAX }) ??
  textProblem(r, "name", { required: true, max: NAME_MAX }) ??
  optionalTypes(r, { title: "string", description: "string", mimeType: "string", size: "number", annotations: "object", icons: "array", _meta: "object" });

const checkTemplate: Check = (r) =>
  textProblem(r, "uriTemplate", { required: true, max: URI_MAX }) ??
  textProblem(r, "name", { required: true, max: NAME_MAX }) ??
  optionalTypes(r, { title: "string", description: "string", mimeType: "string", annotations: "object", icons: "array", _meta: "object" });

const checkPrompt: Check = (p) => {
  const problem =
    textProblem(p, "name", { required: true, max: NAME_MAX }) ??
    optionalTypes(p, { title: "string", description: "string", arguments: "array", icons: "array", _meta: "object" });
  if (problem) return problem;
  // Agents expose prompts by name (prefixed with prefix_tools): a name that hides what it is cannot be trusted.
  if (singleLineProblem(p.name as string)) return "its name holds control or bidi characters";
  const args = (p.arguments ?? []) as unknown[];
  return args.every((a) => isObject(a) && typeof a.name === "string") ? null : "arguments holds an entry without a string name";
};

const KINDS = {
  tool: { check: checkTool, label: (e: Entry) => quoted(e.name) },
  resource: { check: checkResource, label: (e: Entry) => quoted(e.uri ?? e.name) },
  "resource template": { check: checkTemplate, label: (e: Entry) => quoted(e.uriTemplate ?? e.name) },
  prompt: { check: checkPrompt, label: (e: Entry) => quoted(e.name) },
} as const;

type Kind = keyof typeof KINDS;

/**
 * Keeps the well-formed entries of `list` (whatever the upstream sent, array or not), the first of
 * any duplicated key (tool or prompt name, resource URI) included, and returns a warning for each
 * entry dropped, naming it (cut short) and the reason.
 */
function checkList<T>(kind: Kind, list: unknown, key: (entry: Entry) => unknown): Checked<T> {
  const warnings: string[] = [];
  if (list === undefined || list === null) return { items: [], warnings };
  if (!Array.isArray(list)) return { items: [], warnings: [`the ${kind} list is not an array; ignored`] };
  const items: T[] = [];
  const seen = new Set<unknown>();
  list.forEach((entry, i) => {
    if (!isObject(entry)) {
      warnings.push(`${kind} #${i + 1} dropped: not an object (${entry === null ? "null" : Array.isArray(entry) ? "array" : typeof entry})`);
      return;
    }
    const problem = KINDS[kind].check(entry);
    if (problem) {
      warnings.push(`${kind} ${KINDS[kind].label(entry)} dropped: ${problem}`);
      return;
    }
    // Two entries under one name: which one a call reaches would be ambiguous, so the first wins.
    if (seen.has(key(entry))) {
      warnings.push(`${kind} ${KINDS[kind].label(entry)} dropped: listed twice`);
      return;
    }
    seen.add(key(entry));
    items.push(entry as T);
  });
  return { items, warnings };
}

/** The valid tools of a tools/list answer's `tools`. */
export function checkTools(list: unknown): Checked<Tool> {
  return checkList<Tool>("tool", list, (t) => t.name);
}

/** The valid resources of a resources/list answer's `resources`. */
export function checkResources(list: unknown): Checked<Resource> {
  return checkList<Resource>("resource", list, (r) => r.uri);
}

/** The valid templates of a resources/templates/list answer's `resourceTemplates`. */
export function checkResourceTemplates(list: unknown): Checked<ResourceTemplate> {
  return checkList<ResourceTemplate>("resource template", list, (r) => r.uriTemplate);
}

/** The valid prompts of a prompts/list answer's `prompts`. */
export function checkPrompts(list: unknown): Checked<Prompt> {
  return checkList<Prompt>("prompt", list, (p) => p.name);
}

/** The result of a proxied list request with only valid entries in `key` (the rest of the answer kept). */
export function checkedListResult(method: string, answer: Record<string, unknown>): Record<string, unknown> {
  // A cursor that is not a string cannot be sent back: the list ends there.
  const { nextCursor, ...rest } = answer;
  const result = typeof nextCursor === "string" && nextCursor !== "" ? { ...rest, nextCursor } : rest;
  switch (method) {
    case "tools/list":
      return { ...result, tools: checkTools(result.tools).items };
    case "resources/list":
      return { ...result, resources: checkResources(result.resources).items };
    case "resources/templates/list":
      return { ...result, resourceTemplates: checkResourceTemplates(result.resourceTemplates).items };
    case "prompts/list":
      return { ...result, prompts: checkPrompts(result.prompts).items };
    default:
      return result;
  }
}

/** Warnings bounded to MAX_DISCOVERY_WARNINGS, the last saying how many more were left out. */
export function boundWarnings(warnings: string[]): string[] {
  if (warnings.length <= MAX_DISCOVERY_WARNINGS) return warnings;
  const kept = warnings.slice(0, MAX_DISCOVERY_WARNINGS - 1);
  return [...kept, `… and ${warnings.length - kept.length} more entries dropped`];
}

/** Most pages of one list read from an upstream (a cursor that never ends is an upstream bug, not a reason to loop). */
const MAX_LIST_PAGES = 100;

/**
 * Every page of an upstream list (`tools/list`, `tasks/list`, …): `ask` sends the request with the
 * cursor, the entries under `key` of each page are gathered as they came (unchecked), and a page whose
 * `key` is not an array, or whose `nextCursor` is not a string, is reported to `warn` and ends there.
 */
export async function everyPage(
  method: string,
  key: string,
  ask: (params: { cursor?: string }) => Promise<Record<string, unknown>>,
  warn: (warning: string) => void = () => {},
): Promise<unknown[]> {
  const raw: unknown[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const result = await ask(cursor ? { cursor } : {});
    const list = result[key];
    if (Array.isArray(list)) raw.push(...list);
    else if (list !== undefined) warn(`${method}: ${key} is not an array; that page ignored`);
    const next = result.nextCursor;
    if (next !== undefined && next !== null && typeof next !== "string") warn(`${method}: nextCursor is not a string; later pages ignored`);
    cursor = typeof next === "string" && next !== "" ? next : undefined;
    if (!cursor) break;
  }
  return raw;
}
