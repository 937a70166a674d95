// Static assets served by the admin, imported as text so `bun build --compile` embeds them (no CDN).
// The stylesheet and the script are each written as parts, one per area of the admin (the page frame,
// feedback during requests, keys, Try it, …), joined in the order below into one file each: the browser
// loads one sheet and one script, and an area's rules stay in one place. Later parts win in the cascade,
// so the frame's responsive rules come last.
import htmx from "htmx.org/dist/htmx.min.js" with { type: "text" };
import baseCss from "./assets/css/base.css" with { type: "text" };
import feedbackCss from "./assets/css/feedback.css" with { type: "text" };
import connectionsCss from "./assets/css/connections.css" with { type: "text" };
import agentsCss from "./assets/css/agents.css" with { type: "text" };
import tryItCss from "./assets/css/try-it.css" with { type: "text" };
import keysCss from "./assets/css/keys.css" with { type: "text" };
import onboardingCss from "./assets/css/onboarding.css" with { type: "text" };
import accountsCss from "./assets/css/accounts.css" with { type: "text" };
import frameCss from "./assets/css/frame.css" with { type: "text" };
import baseJs from "./assets/js/base.js.txt" with { type: "text" };
import feedbackJs from "./assets/js/feedback.js.txt" with { type: "text" };
import keysJs from "./assets/js/keys.js.txt" with { type: "text" };
import accountsJs from "./assets/js/accounts.js.txt" with { type: "text" };
import favicon from "./assets/favicon.svg" with { type: "text" };

export type Asset = { body: string; type: string; etag: string };

function asset(body: string, type: string): Asset {
  return { body, type, etag: `"${new Bun.CryptoHasher("sha256").update(body).digest("hex").slice(0, 16)}"` };
}

const css = [baseCss, feedbackCss, connectionsCss, agentsCss, tryItCss, keysCss, onboardingCss, accountsCss, frameCss].join("\n");
// Each script part keeps its names to itself (an IIFE or only listeners), so joining them is safe.
const adminJs = [baseJs, feedbackJs, keysJs, accountsJs].join("\n;\n");

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
