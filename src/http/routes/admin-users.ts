// The Users page: everyone signed in sees the list; only admins add, remove and change roles.
import { Hono, type Context } from "hono";
import { createUser, deleteUser, listUsers, setRole } from "../../domain/users.ts";
import { AppError } from "../../errors.ts";
import { UsersPage, UsersSection } from "../../../views/users.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readForm } from "../form.ts";
import { requireAdmin } from "../middleware/session.ts";

export function adminUserRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  /** Renders the section for htmx or the page otherwise, with the outcome of the change. */
  const respond = (c: Context<AppEnv>, message?: { kind: "ok" | "error"; text: string }, status: 200 | 400 | 404 | 409 = 200) => {
    const props = { users: listUsers(deps.db), viewer: c.get("user"), message };
    return c.html(isHtmx(c) ? UsersSection(props) : UsersPage(props), status);
  };

  /** Runs a change; a domain refusal (bad field, last admin…) is shown in the section, not as an error page. */
  const change = async (c: Context<AppEnv>, run: () => Promise<string> | string) => {
    try {
      return respond(c, { kind: "ok", text: await run() });
    } catch (err) {
      if (err instanceof AppError && err.status < 500 && err.status !== 403) {
        return respond(c, { kind: "error", text: err.message }, err.status as 400);
      }
      throw err;
    }
  };

  app.get("/", (c) => respond(c));

  app.post("/", requireAdmin(), async (c) => {
    const form = await readForm(c);
    return change(c, async () => {
      const user = await createUser(deps.db, { email: form.email ?? "", role: form.role ?? "", password: form.password ?? "" });
      deps.logger.info("user created", { user: user.id, by: c.get("user").id });
      return `Added ${user.email}.`;
    });
  });

  app.post("/:id/role", requireAdmin(), async (c) => {
    const form = await readForm(c);
    return change(c, () => {
      const user = setRole(deps.db, c.req.param("id"), form.role ?? "");
      deps.logger.info("user role changed", { user: user.id, role: user.role, by: c.get("user").id });
      return `${user.email} is now ${user.role === "admin" ? "an admin" : "a member"}.`;
    });
  });

  app.post("/:id/delete", requireAdmin(), (c) =>
    change(c, () => {
      deleteUser(deps.db, c.req.param("id"));
      deps.logger.info("user removed", { user: c.req.param("id"), by: c.get("user").id });
      return "User removed.";
    }),
  );

  return app;
}
