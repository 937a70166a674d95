// The admin's page frame: standards mode (a doctype), a favicon that is served, a skip link to the
// main content, and a member badge readable at WCAG AA contrast.
import { afterAll, describe, expect, test } from "bun:test";
import { ASSETS } from "../../views/assets.ts";
import { createTestApp } from "../support/app.ts";
import { insertUser } from "../support/users.ts";

const t = createTestApp();
afterAll(() => t.close());

function relativeLuminance(hex: string): number {
  const channels = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * channels[0]! + 0.7152 * channels[1]! + 0.0722 * channels[2]!;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

describe("the page frame", () => {
  test("every page is in standards mode: the doctype comes first, before sign-in and after", async () => {
    const member = insertUser(t.deps, "member", "frame-member@example.com");
    const cookie = await t.cookieFor(member);
    for (const [path, headers] of [["/admin/login", {}], ["/admin", { cookie }], ["/admin/keys", { cookie }]] as const) {
      const html = await (await t.request(path, { headers })).text();
      expect(html.slice(0, 15).toLowerCase()).toBe("<!doctype html>");
    }
  });

  test("the favicon the pages name is served (no 404 on every page load)", async () => {
    const html = await (await t.request("/admin/login")).text();
    const href = /<link rel="icon" type="image\/svg\+xml" href="([^"]+)"/.exec(html)?.[1];
    expect(href).toBeDefined();
    const res = await t.request(href!.replaceAll("&amp;", "&"));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("image/svg+xml");
  });

  test("a skip link leads to the main content", async () => {
    const member = insertUser(t.deps, "member", "frame-skip@example.com");
    const html = await (await t.request("/admin", { headers: { cookie: await t.cookieFor(member) } })).text();
    expect(html).toContain('<a class="skip-link" href="#main">Skip to content</a>');
    expect(html).toMatch(/<main id="main"/);
    expect(html.indexOf("skip-link")).toBeLessThan(html.indexOf('class="sidebar"'));
  });

  test("the member badge reads at 4.5:1 or better", () => {
    const css = ASSETS["app.css"]!.body;
    const rule = /\.badge\.member \{ background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6}); \}/i.exec(css);
    expect(rule).not.toBeNull();
    expect(contrast(rule![1]!, rule![2]!)).toBeGreaterThanOrEqual(4.5);
  });
});
