// The "Authorized apps" page: grants and clients read and changed through the OAuth operations with the
// signed-in user as caller, so the registry decides who sees and revokes what (members: their own).
import { Hono, type Context } from "hono";
import type { ErrorStatus } from "../../errors.ts";
import { oauthClientDelete, oauthClientList, oauthGrantList, oauthGrantRevoke } from "../../operations/oauth.ts";
import { AppsPage, AppsSection, type AppsProps } from "../../../views/authorized-apps.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readForm } from "../form.ts";
import { mayUse, runAsUser, submitForm, type FormRefusal } from "../form-flow.ts";

export function adminAppsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const respond = async (c: Context<AppEnv>, message?: AppsProps["message"], status: ErrorStatus | 200 = 200): Promise<Response> => {
    const { grants } = await runAsUser(c, deps, oauthGrantList, {});
    // The clients section follows the registry: shown to whoever may list them (admins).
    const clients = mayUse(c, deps, oauthClientList) ? (await runAsUser(c, deps, oauthClientList, {})).clients : null;
    const props: AppsProps = { viewer: c.get("user"), grants, clients, mayDeleteClients: mayUse(c, deps, oauthClientDelete), message };
    return c.html((isHtmx(c) ? AppsSection(props) : AppsPage(props)).toString(), status);
  };

  const refused = (c: Context<AppEnv>) => (r: FormRefusal) => respond(c, { kind: "error", text: r.message }, r.status);

  app.get("/", (c) => respond(c));

  app.post("/:id/revoke", (c) =>
    submitForm(c, deps, oauthGrantRevoke, () => ({ id: c.req.param("id") }), {
      done: () => respond(c, { kind: "ok", text: "App revoked: its tokens no longer work." }),
      refused: refused(c),
    }),
  );

  app.post("/clients/delete", async (c) => {
    const id = (await readForm(c)).id ?? "";
    return submitForm(c, deps, oauthClientDelete, () => ({ id }), {
      done: () => respond(c, { kind: "ok", text: "Client deleted, with every approval of it." }),
      refused: refused(c),
    });
  });

  return app;
}
