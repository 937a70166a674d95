// One API key's page: its facts and grants by name, its activity, and edit (API_KEY_UPDATE) and rotate
// from there. The operations decide who may: a member asking for another's key gets its 404.
import { Hono, type Context } from "hono";
import { RANGES } from "../../domain/monitoring/types.ts";
import { AppError, type ErrorStatus } from "../../errors.ts";
import { apiKeyGet, apiKeyList, apiKeyRotate, apiKeyUpdate } from "../../operations/api-keys.ts";
import { monitoringKeyActivity } from "../../operations/monitoring.ts";
import { oauthGrantList } from "../../operations/oauth.ts";
import { KeyActivityPage } from "../../../views/monitoring.tsx";
import { KeyPage, KeySection, type KeyPageProps } from "../../../views/key-page.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readFormLists } from "../form.ts";
import { runAsUser, submitForm } from "../form-flow.ts";
import { formGrants, grantableTools, grantsOf, grantTargets, issuedToken } from "./key-form.ts";

const KEY_ID = /^key_[0-9a-f-]{36}$/;

/** Fixed confirmations after a redirect (the page writes the text; the query only picks it). */
const NOTICES: Record<string, string> = { saved: "Saved." };

type Outcome = Pick<KeyPageProps, "issued" | "message" | "edit">;

function rangeOf(c: Context<AppEnv>): string {
  const asked = c.req.query("range") ?? "";
  return Object.hasOwn(RANGES, asked) ? asked : "7d";
}

/**
 * The key's page (or the section, for htmx) after `outcome`. API_KEY_GET decides whether the viewer may see
 * it. `picker`: the grant targets when the caller has them already (listing them costs two operations).
 */
async function respond(
  c: Context<AppEnv>,
  deps: AppDeps,
  id: string,
  outcome: Outcome = {},
  status: ErrorStatus | 200 = 200,
  picker?: Awaited<ReturnType<typeof grantTargets>>,
): Promise<Response> {
  if (outcome.issued) c.header("Cache-Control", "no-store");
  const key = await runAsUser(c, deps, apiKeyGet, { id });
  const range = rangeOf(c);
  let activity: KeyPageProps["activity"] = null;
  try {
    activity = await runAsUser(c, deps, monitoringKeyActivity, { credential_id: key.id, range });
  } catch (err) {
    // Monitoring is an aid on this page: the key and its actions stay usable without it.
    deps.logger.error("the key page could not read the key's activity", { key: key.id, error: err });
  }
  const props: KeyPageProps = { viewer: c.get("user"), apiKey: key, ...(picker ?? (await grantTargets(c, deps))), grantableTools: grantableTools(c, deps), activity, range, ...outcome };
  return c.html((isHtmx(c) ? KeySection(props) : KeyPage(props)).toString(), status);
}

/** Rotate from the key's own page: the page again with the new token's dialog, focus then back on Rotate. */
export async function rotateOnPage(c: Context<AppEnv>, deps: AppDeps, grace: string | undefined): Promise<Response> {
  const id = c.req.param("id") ?? "";
  return submitForm(c, deps, apiKeyRotate, () => ({ id, ...(grace ? { grace_period: grace } : {}) }), {
    done: async (result) => {
      const picker = await grantTargets(c, deps);
      const issued = issuedToken(deps, result.key, result.token, { rotated: true, targets: picker.targets, returnFocus: "#rotate-key button[type=submit]" });
      return respond(c, deps, id, { issued, message: { kind: "ok", text: "Rotated: copy the new token now." } }, 200, picker);
    },
    refused: (r) => respond(c, deps, id, { message: { kind: "error", text: r.message } }, r.status),
  });
}

export function adminKeyPageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get("/:id", (c) => {
    const notice = NOTICES[c.req.query("done") ?? ""];
    return respond(c, deps, c.req.param("id"), notice ? { message: { kind: "ok", text: notice } } : {});
  });

  // Edit: name, grants (replaced whole, as the API does) and expiry (keep, never, or from now).
  app.post("/:id", async (c) => {
    const id = c.req.param("id");
    const form = await readFormLists(c);
    const grants = formGrants(form);
    const name = form.name?.[0] ?? "";
    const expiry = form.expiry?.[0] ?? "keep";
    const input = () => ({
      id,
      name,
      permissions: grantsOf(grants),
      ...(expiry === "keep" ? {} : expiry === "never" ? { expires_at: null } : { expires_in: expiry }),
    });
    return submitForm(c, deps, apiKeyUpdate, input, {
      done: () => `/admin/keys/${id}?done=saved`,
      refused: (r) => respond(c, deps, id, { edit: { message: { kind: "error", text: r.message }, name, expiry, raw: grants.raw, permissions: grants.builder } }, r.status),
    });
  });

  // The activity used to have its own page. A key the viewer may manage now shows it on the key's page;
  // an authorized app's grant, and a revoked key whose rows an admin may still read, keep this page.
  // The monitoring operation decides: a member asking for another's key or grant gets its 404.
  app.get("/:id/activity", async (c) => {
    const id = c.req.param("id");
    const range = rangeOf(c);
    if (KEY_ID.test(id)) {
      try {
        await runAsUser(c, deps, apiKeyGet, { id });
        return c.redirect(`/admin/keys/${id}?range=${range}#activity`, 302);
      } catch (err) {
        if (!(err instanceof AppError && err.status === 404)) throw err;
      }
    }
    const activity = await runAsUser(c, deps, monitoringKeyActivity, { credential_id: id, range });
    const [{ keys }, { grants }] = await Promise.all([runAsUser(c, deps, apiKeyList, {}), runAsUser(c, deps, oauthGrantList, {})]);
    const grant = grants.find((g) => g.id === id);
    // A revoked key keeps its rows (admins may still read them): its id stands in for the name.
    const name = keys.find((k) => k.id === id)?.name ?? (grant ? `app ${grant.client.name}` : id);
    return c.html(KeyActivityPage({ user: c.get("user"), name, activity, range }));
  });

  return app;
}
