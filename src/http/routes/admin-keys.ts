// The API keys page: every change goes through the same operations as /mcp/self and /api/v1,
// with the signed-in user as the caller (members manage their own keys, admins everyone's).
// One key's own page (detail, edit, activity) is in admin-key-page.ts, mounted here.
import { Hono, type Context } from "hono";
import { type ErrorStatus } from "../../errors.ts";
import { apiKeyCreate, apiKeyDelete, apiKeyList, apiKeyRotate } from "../../operations/api-keys.ts";
import { monitoringKeyActivity } from "../../operations/monitoring.ts";
import { userList } from "../../operations/users.ts";
import { IssuedTokenPage, IssuedTokenSection, KeysPage, KeysSection, type KeyRow, type KeysProps } from "../../../views/api-keys.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readFormLists } from "../form.ts";
import { runAsUser, submitForm, type FormRefusal } from "../form-flow.ts";
import { adminKeyPageRoutes, rotateOnPage } from "./admin-key-page.ts";
import { formGrants, grantableTools, grantsOf, grantTargets, issuedToken } from "./key-form.ts";

type Outcome = Pick<KeysProps, "issued" | "message" | "formMessage" | "form" | "preselect">;

/** Fixed confirmations after a redirect to the list (the page writes the text; the query only picks it). */
const NOTICES: Record<string, string> = { revoked: "Key revoked." };

export function adminKeyRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  /**
   * Each key used in the last day with what its activity flags (a new address or client, an error rate
   * jump), so the list marks it. Monitoring is an aid here: if it fails, the list shows without marks.
   */
  const withFlags = async (c: Context<AppEnv>, keys: KeyRow[]): Promise<KeyRow[]> => {
    const dayAgo = Date.now() - 86_400_000;
    return Promise.all(
      keys.map(async (key) => {
        if (key.last_used_at === null || Date.parse(key.last_used_at) < dayAgo) return key;
        try {
          const activity = await runAsUser(c, deps, monitoringKeyActivity, { credential_id: key.id, range: "24h" });
          return { ...key, flags: activity.flags.map((f) => f.message) };
        } catch (err) {
          deps.logger.error("the keys page could not read a key's activity", { key: key.id, error: err });
          return key;
        }
      }),
    );
  };

  const render = async (c: Context<AppEnv>, outcome: Outcome, picker: Awaited<ReturnType<typeof grantTargets>>): Promise<string> => {
    const viewer = c.get("user");
    const keys = await withFlags(c, (await runAsUser(c, deps, apiKeyList, {})).keys);
    // API_KEY_CREATE lets admins alone set owner_id: only they get the owner picker.
    const isAdmin = viewer.role === "admin";
    // A preselection names an agent or connection that exists, or nothing.
    const preselect = [...picker.targets.agents, ...picker.targets.connections].some((t) => t.id === outcome.preselect) ? outcome.preselect : undefined;
    const props: KeysProps = {
      viewer,
      keys,
      grantableTools: grantableTools(c, deps),
      users: isAdmin ? (await runAsUser(c, deps, userList, {})).users.map((u) => ({ id: u.id, email: u.email })) : [],
      ...picker,
      ...outcome,
      preselect,
    };
    return (isHtmx(c) ? KeysSection(props) : KeysPage(props)).toString();
  };

  const respond = async (c: Context<AppEnv>, outcome: Outcome = {}, status: ErrorStatus | 200 = 200, known?: Awaited<ReturnType<typeof grantTargets>>) => {
    const issued = outcome.issued;
    // A token must never sit in a browser or proxy cache.
    if (issued) c.header("Cache-Control", "no-store");
    let html: string;
    try {
      html = await render(c, outcome, known ?? (await grantTargets(c, deps)));
    } catch (err) {
      // The key is saved and only its hash is kept: if the page fails now, the token is lost for good.
      // So it is shown on its own, whatever else failed.
      if (!issued) throw err;
      deps.logger.error("the keys page failed after a token was issued; showing the token alone", { key: issued.keyName, error: err });
      const props = { viewer: c.get("user"), issued };
      html = await (isHtmx(c) ? IssuedTokenSection(props) : IssuedTokenPage(props)).toString();
    }
    return c.html(html, status);
  };

  /** A refused action on a key of the list: the section again, with the reason above the list. */
  const refused = (c: Context<AppEnv>) => (r: FormRefusal) => respond(c, { message: { kind: "error", text: r.message } }, r.status);

  app.get("/", (c) => {
    const notice = NOTICES[c.req.query("done") ?? ""];
    return respond(c, { preselect: c.req.query("grant"), ...(notice ? { message: { kind: "ok", text: notice } } : {}) });
  });

  app.post("/", async (c) => {
    const form = await readFormLists(c);
    const grants = formGrants(form);
    const name = form.name?.[0] ?? "";
    const expiresIn = form.expires_in?.[0];
    const ownerId = form.owner_id?.[0];
    const input = () => ({
      name,
      permissions: grantsOf(grants),
      ...(expiresIn ? { expires_in: expiresIn } : {}),
      ...(ownerId ? { owner_id: ownerId } : {}),
    });
    const picker = await grantTargets(c, deps);
    return submitForm(c, deps, apiKeyCreate, input, {
      done: (result) =>
        respond(c, { issued: issuedToken(deps, result.key, result.token, { rotated: false, targets: picker.targets, returnFocus: `#key-${result.key.id} a.key-name` }) }, 200, picker),
      // The form again beside its reason, holding what was typed (ticks included).
      refused: (r) =>
        respond(c, { formMessage: { kind: "error", text: r.message }, form: { name, raw: grants.raw, permissions: grants.builder, expiresIn, ownerId } }, r.status, picker),
    });
  });

  app.post("/:id/rotate", async (c) => {
    const form = await readFormLists(c);
    if (form.from?.[0] === "page") return rotateOnPage(c, deps, form.grace_period?.[0]);
    const grace = form.grace_period?.[0];
    const picker = await grantTargets(c, deps);
    return submitForm(c, deps, apiKeyRotate, () => ({ id: c.req.param("id"), ...(grace ? { grace_period: grace } : {}) }), {
      done: (result) =>
        respond(
          c,
          {
            issued: issuedToken(deps, result.key, result.token, { rotated: true, targets: picker.targets, returnFocus: `#key-${result.key.id} a.key-name` }),
            message: { kind: "ok", text: `Rotated "${result.key.name}": copy the new token now.` },
          },
          200,
          picker,
        ),
      refused: refused(c),
    });
  });

  app.post("/:id/delete", async (c) => {
    const fromPage = (await readFormLists(c)).from?.[0] === "page";
    return submitForm(c, deps, apiKeyDelete, () => ({ id: c.req.param("id") }), {
      // From the key's own page, which is gone now: to the list, which says so.
      done: () => (fromPage ? "/admin/keys?done=revoked" : respond(c, { message: { kind: "ok", text: "Key revoked." } })),
      refused: refused(c),
    });
  });

  app.route("/", adminKeyPageRoutes(deps));

  return app;
}
