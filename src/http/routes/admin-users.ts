// The Users page: everyone signed in sees the list; only admins add, remove and change roles.
// Changes go through the same operations as /mcp/self and /api/v1, with the signed-in user as caller.
import { Hono, type Context } from "hono";
import { listUsers } from "../../domain/access/users.ts";
import { AppError } from "../../errors.ts";
import { runOperation, sessionCaller, type Operation } from "../../operations/registry.ts";
import { userCreate, userDelete, userUpdate } from "../../operations/users.ts";
import { UsersPage, UsersSection } from "../../../views/users.tsx";
import type { AppDeps, AppEnv } from "../context.ts";
import { isHtmx, readForm } from "../form.ts";

export function adminUserRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const run = (c: Context<AppEnv>, op: unknown, input: unknown) =>
    runOperation(op as Operation, { deps, caller: sessionCaller(c.get("user"), deps.catalog), now: new Date() }, input);

  /** Renders the section for htmx or the page otherwise, with the outcome of the change. */
  const respond = (c: Context<AppEnv>, message?: { kind: "ok" | "error"; text: string }, status: 200 | 400 | 404 | 409 = 200) => {
    const props = { users: listUsers(deps.db), viewer: c.get("user"), message };
    return c.html(isHtmx(c) ? UsersSection(props) : UsersPage(props), status);
  };

  /** Runs a change; a domain refusal (bad field, last admin…) is shown in the section, not as an error page. */
  const change = async (c: Context<AppEnv>, action: () => Promise<string>) => {
    try {
      return respond(c, { kind: "ok", text: await action() });
    } catch (err) {
      if (err instanceof AppError && err.status < 500 && err.status !== 403) {
        return respond(c, { kind: "error", text: err.message }, err.status as 400);
      }
      throw err;
    }
  };

  app.get("/", (c) => respond(c));

  app.post("/", async (c) => {
    const form = await readForm(c);
    return change(c, async () => {
      const user = (await run(c, userCreate, { email: form.email ?? "", role: form.role ?? "", password: form.password ?? "" })) as { email: string };
      return `Added ${user.email}.`;
    });
  });

  app.post("/:id/role", async (c) => {
    const form = await readForm(c);
    return change(c, async () => {
      const user = (await run(c, userUpdate, { id: c.req.param("id"), role: form.role ?? "" })) as { email: string; role: string };
      return `${user.email} is now ${user.role === "admin" ? "an admin" : "a member"}.`;
    });
  });

  app.post("/:id/delete", (c) =>
    change(c, async () => {
      await run(c, userDelete, { id: c.req.param("id") });
      return "User removed.";
    }),
  );

  return app;
}
