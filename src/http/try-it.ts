// "Try it" on an agent's page: one tool call through the gateway as the signed-in user, with the same
// checks as a client's call. The arguments are the form's fields (read through the plan the page was
// built from, views/try-it-fields.ts) merged with the JSON box; the outcome, with the call's duration
// measured here around the call, is what the page shows (views/try-it.tsx).
import type { Context } from "hono";
import { AppError } from "../errors.ts";
import type { AgentDetailView } from "../operations/agent-shapes.ts";
import { sessionCaller } from "../operations/registry.ts";
import type { TryOutcome } from "../../views/try-it.tsx";
import { tryPlan, type TryField, type TryPlan } from "../../views/try-it-fields.ts";
import type { AppDeps, AppEnv } from "./context.ts";

/** A tool call's failure as the signed-in user may read it: protocol errors keep their message and code. */
function callError(err: unknown): string {
  if (err instanceof AppError) return err.message;
  if (err instanceof Error && typeof (err as { code?: unknown }).code === "number") return `${err.message} (JSON-RPC error ${(err as unknown as { code: number }).code})`;
  return "The call failed.";
}

// A plain decimal number as people type it; "0x10", "Infinity" or "1_000" are refused rather than guessed at.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** One field's value as the tool gets it, `undefined` when left empty, or what is wrong with it. */
function fieldValue(field: TryField, raw: string): { value?: unknown; error?: string } {
  const name = field.name;
  switch (field.kind) {
    case "boolean":
      // A required flag's checkbox sends a hidden "false" and, when ticked, a later "true": the last value
      // is read. An optional flag's select sends "" for "not set": the property is left out.
      if (raw === "") return {};
      if (raw === "true" || raw === "false") return { value: raw === "true" };
      return { error: `${name} must be true or false.` };
    case "text":
      return raw === "" ? {} : { value: raw };
    case "choice": {
      if (raw === "") return {};
      if (!field.choices.includes(raw)) return { error: `${name} must be one of: ${field.choices.slice(0, 10).join(", ")}${field.choices.length > 10 ? ", …" : ""}.` };
      return { value: field.numericChoices ? Number(raw) : raw };
    }
    case "number":
    case "integer": {
      const text = raw.trim();
      if (text === "") return {};
      const n = Number(text);
      if (!DECIMAL.test(text) || !Number.isFinite(n)) return { error: `${name} must be a number.` };
      if (field.kind === "integer" && !Number.isInteger(n)) return { error: `${name} must be an integer.` };
      if (field.minimum !== null && n < field.minimum) return { error: `${name} must be at least ${field.minimum}.` };
      if (field.maximum !== null && n > field.maximum) return { error: `${name} must be at most ${field.maximum}.` };
      return { value: n };
    }
  }
}

/**
 * The arguments of a call: the JSON box's object, with each filled field added. A property given both in
 * its field and in the JSON box must have the same value there: neither wins, a conflict is refused. Every
 * required property must be given in one or the other.
 */
export function toolArguments(plan: TryPlan, form: Record<string, string>): { args: Record<string, unknown> } | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse((form.arguments ?? "").trim() || "{}");
  } catch {
    return { error: "The arguments are not valid JSON." };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return { error: "The arguments must be a JSON object." };
  // A Map, then fromEntries: a property named "__proto__" stays an ordinary own property.
  const args = new Map(Object.entries(parsed));
  for (const field of plan.fields) {
    const raw = form[field.key];
    // A field the posted form did not carry (a client posting JSON alone) adds nothing.
    if (raw === undefined) continue;
    const { value, error } = fieldValue(field, raw);
    if (error !== undefined) return { error };
    if (value === undefined) continue;
    if (args.has(field.name) && args.get(field.name) !== value) {
      return { error: `${field.name} is given both in its field and in the JSON box, with different values: keep one.` };
    }
    args.set(field.name, value);
  }
  const missing = plan.required.filter((name) => !args.has(name));
  if (missing.length > 0) return { error: `${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""} ${missing.length === 1 ? "is" : "are"} required.` };
  return { args: Object.fromEntries(args) };
}

/** Calls `form.tool` of agent `a` with the arguments the form gives; never throws for the call's own failure. */
export async function tryAgentTool(c: Context<AppEnv>, deps: AppDeps, a: AgentDetailView, form: Record<string, string>): Promise<TryOutcome> {
  const tool = form.tool ?? "";
  // The schema the page was built from; a name the agent does not expose gets the JSON box alone (and the
  // gateway's refusal below).
  const plan = tryPlan(a.tools.find((t) => t.name === tool && !t.missing)?.input_schema);
  const values = Object.fromEntries(plan.fields.filter((f) => form[f.key] !== undefined).map((f) => [f.key, form[f.key]!]));
  const outcome: TryOutcome = { tool, args: form.arguments ?? "{}", values };
  const built = toolArguments(plan, form);
  if ("error" in built) return { ...outcome, error: built.error };
  const started = performance.now();
  try {
    outcome.result = await deps.gateway.callAgentTool(a.id, sessionCaller(c.get("user"), deps.catalog), tool, built.args);
  } catch (err) {
    deps.logger.info("try-it call failed", { agent: a.id, tool, error: err });
    outcome.error = callError(err);
  }
  outcome.durationMs = performance.now() - started;
  return outcome;
}
