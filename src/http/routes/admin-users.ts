// The Users page: everyone signed in sees the list; only admins add, remove and change roles.
// Reads and changes go through the same operations as /mcp/self and /api/v1, with the signed-in user as caller.
import { Hono, type Context } from "hono";
import type { ErrorStatus } from "../../errors.ts";
import { userCreate, userDelete, userList, userUpdate } from "../../operations/users.ts";
import { UsersPage, UsersSection } from "../../../views/users.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readForm } from "../form.ts";
import { runAsUser, submitForm, type FormRefusal } from "../form-flow.ts";

type Message = { kind: "ok" | "error"; text: string };

export function adminUserRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  /** Renders the section for htmx or the page otherwise, with the outcome of the change. */
  const respond = async (c: Context<AppEnv>, outcome: { message?: Message; values?: { email?: string; role?: string } } = {}, status: ErrorStatus | 200 = 200) => {
    const { users } = await runAsUser(c, deps, userList, {});
    const props = { users, viewer: c.get("user"), ...outcome };
    return c.html(isHtmx(c) ? UsersSection(props) : UsersPage(props), status);
  };
  const done = (c: Context<AppEnv>, text: string) => respond(c, { message: { kind: "ok", text } });
  const refused = (c: Context<AppEnv>, values?: { email?: string; role?: string }) => (r: FormRefusal) =>
    respond(c, { message: { kind: "error", text: r.message }, values }, r.status);

  app.get("/", (c) => respond(c));

  app.post("/", async (c) => {
    const form = await readForm(c);
    // An absent field is an empty one, as a browser would send it: the schema names it.
    const input = { email: form.email ?? "", role: form.role ?? "", password: form.password ?? "" };
    return submitForm(c, deps, userCreate, () => input, {
      done: (user) => done(c, `Added ${user.email}.`),
      refused: refused(c, { email: input.email, role: input.role }),
    });
  });

  app.post("/:id/role", async (c) => {
    const form = await readForm(c);
    return submitForm(c, deps, userUpdate, () => ({ id: c.req.param("id"), role: form.role ?? "" }), {
      done: (user) => done(c, `${user.email} is now ${user.role === "admin" ? "an admin" : "a member"}.`),
      refused: refused(c),
    });
  });

  app.post("/:id/delete", (c) =>
    submitForm(c, deps, userDelete, () => ({ id: c.req.param("id") }), { done: () => done(c, "User removed."), refused: refused(c) }),
  );

  return app;
}
