// The form "Try it" offers for one tool, read from its input schema: a field per simple top-level property
// (string, enum, number, integer, boolean), the rest left to the JSON box. The schema comes from the
// upstream (hostile data): names and texts are only ever escaped text, form fields are namespaced and
// capped, and a schema this cannot read falls back to the JSON box alone. The page renders the plan
// (views/try-it.tsx) and the route reads the posted form back through the same plan (src/http/try-it.ts).

/** At most this many fields per tool; properties past it go to the JSON box. */
export const MAX_FIELDS = 50;
/** A longer property name is not made a field (it stays reachable through the JSON box). */
export const MAX_NAME_LENGTH = 100;
/** An enum with more values than this is not made a select. */
export const MAX_CHOICES = 100;
/** Descriptions shown as hints are cut to this many characters. */
const MAX_HINT = 500;
/** How many of the JSON-only properties the hint names. */
const MAX_REST_NAMED = 10;

/** Every field of a form built by "Try it" starts with this, so no property can collide with `tool` or `arguments`. */
export const FIELD_PREFIX = "arg.";

export type TryFieldKind = "text" | "choice" | "number" | "integer" | "boolean";

/** One form field: the property it fills, its form name, and what the schema says of it. */
export type TryField = {
  /** The property's name, as the upstream wrote it. */
  name: string;
  /** The form field's name: the prefix and the name percent-encoded (no "[]" suffix, no dots to nest). */
  key: string;
  kind: TryFieldKind;
  required: boolean;
  description: string | null;
  /** For "choice": the allowed values as the form sends them, and whether they are numbers. */
  choices: string[];
  numericChoices: boolean;
  minimum: number | null;
  maximum: number | null;
  /** The schema's default as the form's initial value ("true"/"false" for a checkbox), or null. */
  initial: string | null;
};

/** The form for one tool: its fields, the properties left to the JSON box, and what is required. */
export type TryPlan = {
  fields: TryField[];
  /** Properties the form cannot express (nested objects, arrays, unions, past the cap, …). */
  rest: string[];
  /** Every required property (fields and JSON box alike). */
  required: string[];
  /** True when the schema could not be read as an object of properties: the JSON box alone. */
  jsonOnly: boolean;
};

const JSON_ONLY: TryPlan = { fields: [], rest: [], required: [], jsonOnly: true };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function finite(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** The one simple type a property allows ("null" aside), or null when it allows several or none. */
function simpleType(prop: Record<string, unknown>): string | null {
  const declared = prop.type;
  const types = typeof declared === "string" ? [declared] : Array.isArray(declared) ? declared : [];
  const named = types.filter((t): t is string => typeof t === "string" && t !== "null");
  return named.length === 1 ? named[0]! : null;
}

/** The field for one property, or null when the form cannot express it. */
function fieldOf(name: string, prop: unknown, required: boolean): TryField | null {
  if (!isPlainObject(prop) || name.length === 0 || name.length > MAX_NAME_LENGTH) return null;
  // Combinators and references may change what a value must be: the JSON box says it exactly.
  if (["anyOf", "oneOf", "allOf", "not", "$ref", "const", "if"].some((k) => k in prop)) return null;
  const type = simpleType(prop);
  const description = typeof prop.description === "string" && prop.description.trim() !== "" ? prop.description.slice(0, MAX_HINT) : null;
  const base = { name, key: FIELD_PREFIX + encodeURIComponent(name), required, description, choices: [] as string[], numericChoices: false, minimum: null, maximum: null, initial: null };
  const fallback = prop.default;
  if (prop.enum !== undefined) {
    const values = prop.enum;
    if (!Array.isArray(values) || values.length === 0 || values.length > MAX_CHOICES) return null;
    const strings = values.every((v) => typeof v === "string") && (type === null || type === "string");
    const numbers = values.every((v) => finite(v) !== null) && (type === "number" || type === "integer" || (type === null && values.every((v) => typeof v === "number")));
    if (!strings && !numbers) return null;
    const choices = [...new Set(values.map((v) => String(v)))];
    const initial = (typeof fallback === "string" || finite(fallback) !== null) && choices.includes(String(fallback)) ? String(fallback) : null;
    return { ...base, kind: "choice", choices, numericChoices: numbers && !strings, initial };
  }
  switch (type) {
    case "string":
      return { ...base, kind: "text", initial: typeof fallback === "string" ? fallback : null };
    case "number":
    case "integer":
      return { ...base, kind: type, minimum: finite(prop.minimum), maximum: finite(prop.maximum), initial: finite(fallback) !== null ? String(fallback) : null };
    case "boolean":
      return { ...base, kind: "boolean", initial: typeof fallback === "boolean" ? String(fallback) : null };
    default:
      return null;
  }
}

/** The form for a tool whose input schema is `schema` (as the upstream listed it; null when unknown). */
export function tryPlan(schema: Record<string, unknown> | null | undefined): TryPlan {
  if (!isPlainObject(schema)) return JSON_ONLY;
  if (schema.type !== undefined && schema.type !== "object") return JSON_ONLY;
  const properties = schema.properties ?? {};
  if (!isPlainObject(properties)) return JSON_ONLY;
  const required = Array.isArray(schema.required) ? [...new Set(schema.required.filter((r): r is string => typeof r === "string"))] : [];
  const requiredSet = new Set(required);
  const fields: TryField[] = [];
  const rest: string[] = [];
  for (const [name, prop] of Object.entries(properties)) {
    const field = fields.length < MAX_FIELDS ? fieldOf(name, prop, requiredSet.has(name)) : null;
    if (field) fields.push(field);
    else rest.push(name);
  }
  return { fields, rest, required, jsonOnly: false };
}

/** The JSON-only properties as a short text for the JSON box's hint ("tags, options and 3 more"). */
export function restSummary(rest: string[]): string {
  const named = rest.slice(0, MAX_REST_NAMED).map((n) => (n.length > 40 ? `${n.slice(0, 40)}…` : n));
  const more = rest.length - named.length;
  return more > 0 ? `${named.join(", ")} and ${more} more` : named.join(", ");
}
