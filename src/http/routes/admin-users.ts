// The Users page: everyone signed in sees the list; only admins invite, add, remove and change roles.
// Reads and changes go through the same operations as /mcp/self and /api/v1, with the signed-in user as caller.
import { Hono, type Context } from "hono";
import type { ErrorStatus } from "../../errors.ts";
import { userCreate, userDelete, userInviteCreate, userInviteList, userInviteRevoke, userList, userUpdate } from "../../operations/users.ts";
import { UsersPage, UsersSection, type IssuedInvite, type MessageSource, type SectionProps } from "../../../views/users.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readForm } from "../form.ts";
import { mayUse, runAsUser, submitForm, type FormRefusal } from "../form-flow.ts";

type Outcome = Pick<SectionProps, "message" | "issued" | "values">;
type Typed = { email?: string; role?: string };

export function adminUserRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  /** Renders the section for htmx or the page otherwise, with the outcome of the change. */
  const respond = async (c: Context<AppEnv>, outcome: Outcome = {}, status: ErrorStatus | 200 = 200) => {
    const { users } = await runAsUser(c, deps, userList, {});
    // Pending invites are the admins' to see (the operation decides; a member's page simply has none).
    const invites = mayUse(c, deps, userInviteList) ? (await runAsUser(c, deps, userInviteList, {})).invites : null;
    const props: SectionProps = { users, invites, viewer: c.get("user"), ...outcome };
    return c.html(isHtmx(c) ? UsersSection(props) : UsersPage(props), status);
  };
  const done = (c: Context<AppEnv>, source: MessageSource, text: string) => respond(c, { message: { kind: "ok", text, source } });
  const refused = (c: Context<AppEnv>, source: MessageSource, values?: Typed) => (r: FormRefusal) =>
    respond(c, { message: { kind: "error", text: r.message, source }, values }, r.status);

  app.get("/", (c) => respond(c));

  app.post("/", async (c) => {
    const form = await readForm(c);
    // An absent field is an empty one, as a browser would send it: the schema names it.
    const input = { email: form.email ?? "", role: form.role ?? "", password: form.password ?? "" };
    return submitForm(c, deps, userCreate, () => input, {
      done: (user) => done(c, "add", `Added ${user.email}.`),
      refused: refused(c, "add", { email: input.email, role: input.role }),
    });
  });

  app.post("/invites", async (c) => {
    const form = await readForm(c);
    const input = { email: form.email ?? "", role: form.role ?? "" };
    return submitForm(c, deps, userInviteCreate, () => input, {
      done: async ({ invite, url }) => {
        const issued: IssuedInvite = { email: invite.email, role: invite.role, url, expiresAt: invite.expires_at };
        // The answer carries the one-time link: never kept by a cache.
        c.header("Cache-Control", "no-store");
        return respond(c, { message: { kind: "ok", text: `Invite created for ${invite.email}.`, source: "invite" }, issued });
      },
      refused: refused(c, "invite", input),
    });
  });

  app.post("/invites/:id/revoke", (c) =>
    submitForm(c, deps, userInviteRevoke, () => ({ id: c.req.param("id") }), {
      done: (gone) => done(c, "invites", `The invite for ${gone.email} is revoked.`),
      refused: refused(c, "invites"),
    }),
  );

  app.post("/:id/role", async (c) => {
    const form = await readForm(c);
    return submitForm(c, deps, userUpdate, () => ({ id: c.req.param("id"), role: form.role ?? "" }), {
      done: (user) => done(c, "table", `${user.email} is now ${user.role === "admin" ? "an admin" : "a member"}.`),
      refused: refused(c, "table"),
    });
  });

  app.post("/:id/delete", (c) =>
    submitForm(c, deps, userDelete, () => ({ id: c.req.param("id") }), { done: () => done(c, "table", "User removed."), refused: refused(c, "table") }),
  );

  return app;
}
