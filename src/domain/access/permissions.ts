// The one decision of who may do what: `{ resource: [actions] }` permissions, as the README's Permissions section states them.
// Pure functions only; every MCP list and call, every REST call and the admin use these.
import { z } from "zod";
import { TOOL_NAME } from "../agents/tools.ts";
import type { Role } from "./users.ts";

/** A key's permissions: resource ("self", "*", "conn_<uuid>", "agent_<uuid>") → actions (names or "*"). */
export type Permissions = Record<string, string[]>;

export const WILDCARD = "*";
export const SELF = "self";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
export const CONNECTION_ID = new RegExp(`^conn_${UUID}$`);
export const AGENT_ID = new RegExp(`^agent_${UUID}$`);
/**
 * An action is a tool name by MCP's rule (2025-11-25, server/tools "Tool names": 1-128 of A-Z a-z
 * 0-9 _ - .), the same rule discovery keeps tools by, or "*". A name the gateway never lists can
 * never be granted, and no tool name can be mistaken for the wildcard.
 */
const ACTION = new RegExp(`${TOOL_NAME.source}|^\\*$`);
const ACTION_RULE = 'actions are tool names (1-128 of A-Z a-z 0-9 _ - .) or "*"';

/** The shape of a permissions object; which resources exist is checked by checkPermissions. */
export const PermissionsSchema = z
  .record(
    z.string().min(1, { error: "resource names cannot be empty" }),
    z
      .array(z.string().regex(ACTION, { error: ACTION_RULE }), {
        error: "expected a list of actions",
      })
      .min(1, { error: "expected at least one action" })
      .max(1000),
    { error: 'expected an object of resource → list of actions, e.g. {"self": ["API_KEY_LIST"]}' },
  )
  .describe('Permissions: resource → actions. "self" → management tool names or "*"; "conn_<uuid>" / "agent_<uuid>" → tool names or "*"; "*" → any connection.');

/**
 * Permissions as stored and returned: the same shape, actions not re-checked, so a key saved before
 * the action rule narrowed (a "/" in a tool name) is still listed rather than failing the answer.
 */
export const StoredPermissionsSchema = z
  .record(z.string(), z.array(z.string()))
  .describe('Permissions: resource → actions. "self" → management tool names or "*"; "conn_<uuid>" / "agent_<uuid>" → tool names or "*"; "*" → any connection.');

/** True when `p[resource]` holds `action` or "*". */
export function grants(p: Permissions, resource: string, action: string): boolean {
  const actions = p[resource];
  return actions !== undefined && (actions.includes(action) || actions.includes(WILDCARD));
}

/** Management tool `op` at /mcp/self or /api/v1. */
export function mayUseManagementTool(p: Permissions, op: string): boolean {
  return grants(p, SELF, op);
}

/** Tool `tool` of connection `connectionId` through /mcp/:connectionId. */
export function mayCallConnectionTool(p: Permissions, connectionId: string, tool: string): boolean {
  return grants(p, connectionId, tool) || grants(p, WILDCARD, tool);
}

/** Whether the key may use anything at all on this connection (else its endpoint answers 403). */
export function mayReachConnection(p: Permissions, connectionId: string): boolean {
  return (p[connectionId]?.length ?? 0) > 0 || (p[WILDCARD]?.length ?? 0) > 0;
}

/** Whether the key may use anything at all through this agent (its own grant, or one on any of its connections). */
export function mayReachAgent(p: Permissions, agentId: string, connectionIds: string[]): boolean {
  return (p[agentId]?.length ?? 0) > 0 || (p[WILDCARD]?.length ?? 0) > 0 || connectionIds.some((id) => (p[id]?.length ?? 0) > 0);
}

/** A tool the agent selects and exposes as `exposed`, backed by `tool` of `connectionId`. */
export function mayCallAgentTool(p: Permissions, agentId: string, exposed: string, connectionId: string, tool: string): boolean {
  return grants(p, agentId, exposed) || mayCallConnectionTool(p, connectionId, tool);
}

/** Resources and prompts of a connection or agent need "*" on it, or on "*". */
export function mayUseResourcesOf(p: Permissions, resource: string): boolean {
  return (p[resource]?.includes(WILDCARD) ?? false) || (p[WILDCARD]?.includes(WILDCARD) ?? false);
}

/** Which management tools a role may use; admins all, members only those marked for members. */
export type ManagementCatalog = { all: readonly string[]; forMembers: readonly string[] };

/** Everything a user of `role` may do: what their sessions carry and what their keys are capped at. */
export function roleCeiling(role: Role, catalog: ManagementCatalog): Permissions {
  return role === "admin" ? { [SELF]: [WILDCARD], [WILDCARD]: [WILDCARD] } : { [SELF]: [...catalog.forMembers], [WILDCARD]: [WILDCARD] };
}

/**
 * A key's permissions as they apply now: its own, with "self" narrowed to what its owner's current
 * role allows. A demoted owner's keys lose the owner's lost powers on the very next request.
 */
export function effectivePermissions(p: Permissions, ownerRole: Role, catalog: ManagementCatalog): Permissions {
  if (ownerRole === "admin" || p[SELF] === undefined) return p;
  const allowed = new Set(catalog.forMembers);
  const self = p[SELF].includes(WILDCARD) ? [...catalog.forMembers] : p[SELF].filter((op) => allowed.has(op));
  const out: Permissions = { ...p };
  if (self.length > 0) out[SELF] = self;
  else delete out[SELF];
  return out;
}

/** True when `holder` grants every (resource, action) pair that `requested` names. */
function covers(holder: Permissions, resource: string, action: string): boolean {
  if (grants(holder, resource, action)) return true;
  // Any-connection grants cover a specific connection's; everything on every connection reaches
  // every agent tool too (an agent only exposes connection tools), so it covers agent grants.
  if (CONNECTION_ID.test(resource)) return grants(holder, WILDCARD, action);
  return AGENT_ID.test(resource) && grants(holder, WILDCARD, WILDCARD);
}

/**
 * The entries of `p` that `holder` does not cover, as "resource: action". Both are compared as stored,
 * so a list of names never covers "*" (a key with every tool named today still lacks tools added later).
 */
export function uncoveredGrants(holder: Permissions, p: Permissions): string[] {
  const out: string[] = [];
  for (const [resource, actions] of Object.entries(p)) {
    for (const action of actions) if (!covers(holder, resource, action)) out.push(`${resource}: ${JSON.stringify(action)}`);
  }
  return out;
}

/**
 * Checks a permissions object before it is stored: known resources and management tools, and never
 * more than `ceiling` (what the creator may hand out). Returns one problem per offending entry.
 */
export function checkPermissions(
  p: Permissions,
  options: { catalog: ManagementCatalog; resourceExists: (resource: string) => boolean; ceiling: Permissions; ceilingLabel: string },
): string[] {
  const problems: string[] = [];
  const known = new Set(options.catalog.all);
  for (const [resource, actions] of Object.entries(p)) {
    if (resource === SELF) {
      for (const op of actions) if (op !== WILDCARD && !known.has(op)) problems.push(`self: unknown management tool ${JSON.stringify(op)}`);
    } else if (resource !== WILDCARD) {
      if (!CONNECTION_ID.test(resource) && !AGENT_ID.test(resource)) {
        problems.push(`${resource}: unknown resource (expected "self", "*", "conn_<uuid>" or "agent_<uuid>")`);
        continue;
      }
      if (!options.resourceExists(resource)) {
        problems.push(`${resource}: no such ${resource.startsWith("conn_") ? "connection" : "agent"}`);
        continue;
      }
    }
    for (const action of actions) {
      if (resource === SELF && action !== WILDCARD && !known.has(action)) continue;
      if (!covers(options.ceiling, resource, action)) {
        problems.push(`${resource}: ${JSON.stringify(action)} is more than ${options.ceilingLabel} may grant`);
      }
    }
  }
  return problems;
}
