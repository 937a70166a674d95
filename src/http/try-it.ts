// "Try it" on an agent's page: one tool call through the gateway as the signed-in user, with the same
// checks as a client's call, turned into what the page shows (views/try-it.tsx).
import type { Context } from "hono";
import { AppError } from "../errors.ts";
import type { AgentDetailView } from "../operations/agent-shapes.ts";
import { sessionCaller } from "../operations/registry.ts";
import type { TryOutcome } from "../../views/try-it.tsx";
import type { AppDeps, AppEnv } from "./context.ts";

/** A tool call's failure as the signed-in user may read it: protocol errors keep their message and code. */
function callError(err: unknown): string {
  if (err instanceof AppError) return err.message;
  if (err instanceof Error && typeof (err as { code?: unknown }).code === "number") return `${err.message} (JSON-RPC error ${(err as unknown as { code: number }).code})`;
  return "The call failed.";
}

/** Calls `form.tool` of agent `a` with the JSON object in `form.arguments`; never throws for the call's own failure. */
export async function tryAgentTool(c: Context<AppEnv>, deps: AppDeps, a: AgentDetailView, form: Record<string, string>): Promise<TryOutcome> {
  const outcome: TryOutcome = { tool: form.tool ?? "", args: form.arguments ?? "{}" };
  let args: unknown = null;
  try {
    args = JSON.parse(outcome.args.trim() || "{}");
  } catch {
    outcome.error = "The arguments are not valid JSON.";
  }
  if (outcome.error === undefined && (typeof args !== "object" || args === null || Array.isArray(args))) outcome.error = "The arguments must be a JSON object.";
  if (outcome.error === undefined) {
    try {
      outcome.result = await deps.gateway.callAgentTool(a.id, sessionCaller(c.get("user"), deps.catalog), outcome.tool, args as Record<string, unknown>);
    } catch (err) {
      deps.logger.info("try-it call failed", { agent: a.id, tool: outcome.tool, error: err });
      outcome.error = callError(err);
    }
  }
  return outcome;
}
