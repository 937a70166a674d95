// Static assets served by the admin, imported as text so `bun build --compile` embeds them (no CDN).
import htmx from "htmx.org/dist/htmx.min.js" with { type: "text" };
import css from "./assets/app.css" with { type: "text" };
import adminJs from "./assets/admin.js.txt" with { type: "text" };
import favicon from "./assets/favicon.svg" with { type: "text" };

export type Asset = { body: string; type: string; etag: string };

function asset(body: string, type: string): Asset {
  return { body, type, etag: `"${new Bun.CryptoHasher("sha256").update(body).digest("hex").slice(0, 16)}"` };
}

/** Assets by file name, served at /admin/assets/<name>. */
export const ASSETS: Record<string, Asset> = {
  "htmx.min.js": asset(htmx, "text/javascript; charset=utf-8"),
  "app.css": asset(css, "text/css; charset=utf-8"),
  "admin.js": asset(adminJs, "text/javascript; charset=utf-8"),
  "favicon.svg": asset(favicon, "image/svg+xml"),
};

/** URL of an asset, versioned by its hash so browsers may cache it for good. */
export function assetUrl(name: keyof typeof ASSETS & string): string {
  return `/admin/assets/${name}?v=${ASSETS[name]!.etag.slice(1, 9)}`;
}
