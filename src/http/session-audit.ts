// The audit row of something a person did in the browser outside the operations registry (sign-in, the
// first admin, an OAuth approval, a password change, an accepted invite): the admin face, the session
// as the credential, the client's address. Operations write their own rows (runOperation).
import type { Context } from "hono";
import type { AuditRecord } from "../domain/monitoring/types.ts";
import { requestOrigin } from "./client-ip.ts";
import type { AppDeps, AppEnv } from "./context.ts";

export function recordSessionAction(
  c: Context<AppEnv>,
  deps: AppDeps,
  event: { userId: string | null; action: string; targetId: string | null; change: unknown; outcome: AuditRecord["outcome"] },
): void {
  deps.audit.record({
    at: new Date(),
    face: "admin",
    actor: { userId: event.userId, credentialKind: "session", credentialId: null },
    action: event.action,
    targetId: event.targetId,
    address: requestOrigin(c, deps.config.server.trusted_proxies, "admin").address,
    change: event.change,
    outcome: event.outcome,
  });
}
