// The resources, resource templates and prompts of a per-user OAuth connection are its caller's own:
// discovery read them with some admin's account, so they are listed only from the caller's own upstream session.
import type { JSONRPCRequest, Prompt, Resource, ResourceTemplate } from "@modelcontextprotocol/sdk/types.js";
import type { ConnectionSpec } from "../domain/connections/spec.ts";
import type { ConnectionRuntime } from "./connection-runtime.ts";
import { checkPrompts, checkResources, checkResourceTemplates, everyPage } from "./discovery.ts";

/** The lists that may differ from one upstream account to the next (a user's private pages, repos, saved prompts). */
export type AccountLists = { resources: Resource[]; resourceTemplates: ResourceTemplate[]; prompts: Prompt[] };

export const ACCOUNT_LIST_METHODS: Record<keyof AccountLists, string> = {
  resources: "resources/list",
  resourceTemplates: "resources/templates/list",
  prompts: "prompts/list",
};

const CHECKS = { resources: checkResources, resourceTemplates: checkResourceTemplates, prompts: checkPrompts };

/**
 * Whether a connection's resources, templates and prompts belong to the account that lists them: a
 * per-user OAuth connection's do, so discovery's (read with whichever admin connected last) are no one
 * else's to see. Its tool list is assumed not to be account-specific (an upstream offers the same tools
 * to every account), so discovery's tools stay what agents expose and keys grant.
 */
export function accountScoped(spec: Pick<ConnectionSpec, "oauth">): boolean {
  return spec.oauth?.mode === "per_user";
}

/** The method's list key when it lists what is account-scoped (null for tools/list and anything else). */
export function accountListKey(method: string): keyof AccountLists | null {
  const found = (Object.keys(ACCOUNT_LIST_METHODS) as (keyof AccountLists)[]).find((k) => ACCOUNT_LIST_METHODS[k] === method);
  return found ?? null;
}

/**
 * A connection's `key` list for one caller: discovery's, or for an account-scoped connection every page
 * its caller's own upstream session lists (`ask` forwards as that session), checked as discovery checks.
 * Empty when the caller has no link or the upstream cannot list it: listing never fails over it.
 */
export async function listFor<K extends keyof AccountLists>(runtime: ConnectionRuntime, key: K, ask: (request: JSONRPCRequest) => Promise<Record<string, unknown>>): Promise<AccountLists[K]> {
  if (!accountScoped(runtime.spec)) return runtime.discovery[key];
  if (!runtime.spec.enabled) return [];
  const method = ACCOUNT_LIST_METHODS[key];
  try {
    const raw = await everyPage(method, key, (params) => ask({ jsonrpc: "2.0", id: 0, method, params }));
    return CHECKS[key](raw).items as AccountLists[K];
  } catch {
    return [];
  }
}
