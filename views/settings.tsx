// The Settings page: the effective configuration, read-only (it comes from switchboard.toml), secrets masked.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import { AdminLayout } from "./layout.tsx";

export function SettingsPage(props: { user: User; effectiveToml: string; configSource: string | null }) {
  return (
    <AdminLayout title="Settings" user={props.user} active="settings">
      <p class="muted">
        Settings come from {props.configSource ? <code>{props.configSource}</code> : "the built-in defaults (no switchboard.toml was found)"}.
        Edit the file and restart to change them; <code>switchboard check-config</code> validates it first.
      </p>
      <pre id="effective-config">{props.effectiveToml}</pre>
    </AdminLayout>
  );
}
