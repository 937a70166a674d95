// What the keys pages share: the grants a form describes (builder or raw JSON, never nothing), the
// agents and connections grants may name, and the one-time token with the snippets of what it reaches.
import type { Context } from "hono";
import { AppError } from "../../errors.ts";
import { toolList } from "../../operations/tools.ts";
import { snippetSets, type IssuedToken } from "../../../views/token-dialog.tsx";
import type { GrantTargets, Permissions } from "../../../views/key-grants.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { mayUse, runAsUser } from "../form-flow.ts";

/**
 * The permissions the checkboxes describe: self tools (or all), and per connection or agent either
 * all ("grant_all" = its id) or the tools ticked under "grant_<id>".
 */
export function permissionsFromBuilder(form: Record<string, string[]>): Permissions {
  const permissions: Permissions = {};
  if (form.self_all?.length) permissions.self = ["*"];
  else if (form.self?.length) permissions.self = form.self;
  const all = new Set(form.grant_all ?? []);
  for (const id of all) permissions[id] = ["*"];
  for (const [field, tools] of Object.entries(form)) {
    if (!(field.startsWith("grant_conn_") || field.startsWith("grant_agent_")) || tools.length === 0) continue;
    const id = field.slice("grant_".length);
    if (!all.has(id)) permissions[id] = tools;
  }
  return permissions;
}

/** The raw permissions box: JSON, or a refusal of the field. */
function parsePermissionsJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new AppError("INVALID_PERMISSIONS", "The raw permissions are not valid JSON.");
  }
}

/** A form's grants as typed: the raw JSON box when filled (it overrides the boxes), else the boxes. */
export function formGrants(form: Record<string, string[]>): { raw: string; builder: Permissions } {
  return { raw: (form.permissions_json?.[0] ?? "").trim(), builder: permissionsFromBuilder(form) };
}

/**
 * The permissions a key form asks for. A key that grants nothing can call nothing: in the admin that
 * is always a slip (nothing ticked), so it is refused beside the form. The API still accepts `{}`.
 */
export function grantsOf(grants: { raw: string; builder: Permissions }): unknown {
  const permissions = grants.raw === "" ? grants.builder : parsePermissionsJson(grants.raw);
  if (permissions !== null && typeof permissions === "object" && !Array.isArray(permissions) && Object.keys(permissions).length === 0) {
    throw new AppError("INVALID_PERMISSIONS", "This key would grant nothing: choose the agent it is for (or a connection, or management tools under Advanced).", {
      fields: { permissions: "choose at least one grant" },
    });
  }
  return permissions;
}

/**
 * What grants may name and the builder offers: each connection's discovered tools and each agent's
 * exposed names. Upstream data feeds it, so a failure here empties the picker (raw JSON still works)
 * and leaves grants unnamed (never called "deleted") rather than failing the page.
 */
export async function grantTargets(c: Context<AppEnv>, deps: AppDeps): Promise<{ targets: GrantTargets; pickerFailed?: boolean }> {
  try {
    const offers = await runAsUser(c, deps, toolList, {});
    return {
      targets: {
        connections: offers.connections.map((conn) => ({ id: conn.id, slug: conn.slug, title: conn.title, tools: conn.tools.map((tool) => tool.name) })),
        agents: offers.agents,
        known: true,
      },
    };
  } catch (err) {
    deps.logger.error("the keys page could not list connection and agent tools", { error: err });
    return { targets: { connections: [], agents: [], known: false }, pickerFailed: true };
  }
}

/** The management tools the viewer may grant: a key never holds more than its maker. */
export function grantableTools(c: Context<AppEnv>, deps: AppDeps): string[] {
  return deps.catalog.all.filter((name) => mayUse(c, deps, { name }));
}

/** The token to show once, with the snippets of every endpoint the key reaches. */
export function issuedToken(
  deps: AppDeps,
  key: { id: string; name: string; permissions: Permissions },
  token: string,
  options: { rotated: boolean; targets: GrantTargets; returnFocus: string },
): IssuedToken {
  return {
    keyId: key.id,
    keyName: key.name,
    token,
    rotated: options.rotated,
    sets: snippetSets(key.permissions, options.targets, deps.config.server.public_url),
    anyConnection: key.permissions["*"] !== undefined,
    returnFocus: options.returnFocus,
  };
}
