// The page shells: the signed-in admin layout with its navigation, and the bare layout of sign-in pages.
/** @jsxImportSource hono/jsx */
import { raw } from "hono/html";
import type { Child } from "hono/jsx";
import type { User } from "../src/domain/access/users.ts";
import { assetUrl } from "./assets.ts";

/** Sections of the admin. Those without `href` arrive with a later release and are shown, not linked. */
export const NAV: { key: string; label: string; href?: string }[] = [
  { key: "dashboard", label: "Dashboard", href: "/admin" },
  { key: "connections", label: "Connections", href: "/admin/connections" },
  { key: "agents", label: "Agents", href: "/admin/agents" },
  { key: "keys", label: "API keys", href: "/admin/keys" },
  { key: "apps", label: "Authorized apps", href: "/admin/apps" },
  { key: "connected-accounts", label: "Connected accounts", href: "/admin/connected-accounts" },
  { key: "monitoring", label: "Monitoring", href: "/admin/monitoring" },
  { key: "audit", label: "Audit log", href: "/admin/audit" },
  { key: "users", label: "Users", href: "/admin/users" },
  { key: "settings", label: "Settings", href: "/admin/settings" },
];

function Head(props: { title: string; refresh?: string }) {
  return (
    <head>
      <meta charset="utf-8" />
      {props.refresh && <meta http-equiv="refresh" content={`0;url=${props.refresh}`} />}
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{props.title} · Switchboard</title>
      <link rel="icon" type="image/svg+xml" href={assetUrl("favicon.svg")} />
      <link rel="stylesheet" href={assetUrl("app.css")} />
      <script src={assetUrl("htmx.min.js")} defer></script>
      <script src={assetUrl("admin.js")} defer></script>
    </head>
  );
}

/** Standards mode for every page (without it browsers render in quirks mode); a constant, never user data. */
const DOCTYPE = raw("<!doctype html>");

/** The signed-in layout: a skip link, sidebar navigation, who is signed in, sign-out. */
export function AdminLayout(props: { title: string; user: User; active: string; children: Child }) {
  return (
    <>
    {DOCTYPE}
    <html lang="en">
      <Head title={props.title} />
      <body>
        <a class="skip-link" href="#main">Skip to content</a>
        <div class="shell">
          <nav class="sidebar" aria-label="Main">
            <a class="brand" href="/admin">Switchboard</a>
            <div class="nav">
              {NAV.map((item) =>
                item.href ? (
                  <a href={item.href} aria-current={item.key === props.active ? "page" : undefined}>{item.label}</a>
                ) : (
                  <span class="soon" title="Not in this release yet">{item.label} <small>· soon</small></span>
                ),
              )}
            </div>
            <div class="who">
              <div><a class="account" href="/admin/account" title={props.user.email} aria-current={props.active === "account" ? "page" : undefined}>{props.user.email}</a></div>
              <span class={`badge ${props.user.role}`}>{props.user.role}</span>
              <form method="post" action="/admin/logout">
                <button class="link" type="submit">Sign out</button>
              </form>
            </div>
          </nav>
          <main id="main" tabindex={-1}>
            <h1>{props.title}</h1>
            {props.children}
          </main>
        </div>
      </body>
    </html>
    </>
  );
}

/** The layout of pages shown before sign-in (sign-in, first-admin setup, errors). */
export function BareLayout(props: { title: string; children: Child; /** A URL the page sends the browser on to at once. */ refresh?: string }) {
  return (
    <>
    {DOCTYPE}
    <html lang="en">
      <Head title={props.title} refresh={props.refresh} />
      <body>
        <main class="auth" id="main">{props.children}</main>
      </body>
    </html>
    </>
  );
}
