// "Try it" over the real gateway and real upstreams: server-everything (enum, number and boolean
// arguments; images, embedded resources, resource links and structured content in its results) and the
// hostile fixture in its HOSTILE_TRY mode (property names that are markup or the form's own fields, 60
// properties, script-carrying and oversized media, javascript: links). The page's fields, the arguments
// the tool receives, what the result renders as, the call's duration, and the admin's CSP for media.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { configAgentId } from "../../src/domain/agents/config.ts";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import { MAX_FIELDS } from "../../views/try-it-fields.ts";
import { createTestApp } from "../support/app.ts";
import { EVERYTHING_STDIO } from "../support/everything.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

const HOSTILE = join(import.meta.dir, "../fixtures/hostile-upstream.ts");
const t = await createTestApp({
  overrides: {
    connections: [
      { slug: "everything", ...EVERYTHING_STDIO },
      { slug: "hostile", command: process.execPath, args: [HOSTILE], env: { HOSTILE_TRY: "1" } },
    ],
    agents: [
      { slug: "every", tools: { everything: ["get-sum", "get-annotated-message", "get-resource-links", "get-resource-reference", "get-structured-content", "get-tiny-image", "echo"] } },
      { slug: "hostile-try", tools: { hostile: "*" } },
    ],
  },
});
const every = configAgentId("every");
const hostile = configAgentId("hostile-try");
let cookie = "";

beforeAll(async () => {
  cookie = await sessionCookieFor(t.deps, await insertUser(t.deps, "member"), 600_000);
  await Promise.all(["everything", "hostile"].map((slug) => t.deps.gateway.refresh(configConnectionId(slug))));
});

afterAll(async () => {
  await t.deps.gateway.close();
  t.close();
});

async function page(agentId: string): Promise<Response> {
  return t.request(`/admin/agents/${agentId}`, { headers: { cookie } });
}

/** A Try it post as htmx sends it: the fields (already named arg.…) and the JSON box. */
async function tryIt(agentId: string, fields: [string, string][]): Promise<string> {
  const headers = { cookie, "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin", "hx-request": "true" };
  const res = await t.request(`/admin/agents/${agentId}/try`, { method: "POST", headers, body: new URLSearchParams(fields).toString() });
  expect(res.status).toBe(200);
  return res.text();
}

/** The HTML of one tool's section of the page (its <details class="try-tool">). */
function toolSection(html: string, tool: string): string {
  const start = html.indexOf(`<input type="hidden" name="tool" value="${tool}"/>`);
  expect(start).toBeGreaterThan(-1);
  const from = html.lastIndexOf('<details class="try-tool"', start);
  return html.slice(from, html.indexOf('<details class="try-tool"', start) === -1 ? undefined : html.indexOf('<details class="try-tool"', start));
}

describe("server-everything", () => {
  test("the page builds fields from each schema: a select for an enum, a three-way select for an optional boolean, number inputs with bounds and defaults; the schema folded", async () => {
    const res = await page(every);
    expect(res.headers.get("content-security-policy")).toContain("media-src 'self' data:");
    const html = await res.text();
    const annotated = toolSection(html, "get-annotated-message");
    expect(annotated).toContain('<select id="try-1-f0" name="arg.messageType" aria-required="true" aria-describedby="try-1-f0-hint"><option value="">Choose…</option><option value="error">error</option><option value="success">success</option><option value="debug">debug</option></select>');
    expect(annotated).toContain('<code>messageType</code><span class="try-required"> (required)</span>');
    // includeImage is optional: (not set), true or false, never a checkbox whose hidden false is always
    // sent; its default (false) is preselected, as other fields start at theirs.
    expect(annotated).toContain('<select id="try-1-f1" name="arg.includeImage" aria-describedby="try-1-f1-hint"><option value="">(not set)</option><option value="true">true</option><option value="false" selected="">false</option></select>');
    expect(annotated).not.toContain('type="checkbox"');
    expect(annotated).toContain("Whether to include an example image");
    const links = toolSection(html, "get-resource-links");
    expect(links).toContain('<input type="number" id="try-2-f0" name="arg.count" value="3" step="any" min="1" max="10"');
    const reference = toolSection(html, "get-resource-reference");
    expect(reference).toContain('<option value="Text" selected="">Text</option>');
    // The schema is there, folded: no "open" on its <details>.
    expect(annotated).toContain('<details class="try-schema"><summary>Input schema</summary><pre class="schema">');
    expect(html).not.toContain('<details class="try-schema" open');
    // A tool without properties gets the JSON box alone, labelled as such.
    expect(toolSection(html, "get-tiny-image")).toContain(">Arguments (JSON)</label>");
    expect(toolSection(html, "get-tiny-image")).not.toContain('name="arg.');
  });

  test("numbers typed in fields reach the tool as numbers, with the duration shown", async () => {
    const html = await tryIt(every, [["tool", "get-sum"], ["arg.a", "2"], ["arg.b", "40"], ["arguments", "{}"]]);
    expect(html).toContain('class="alert ok try-outcome"');
    expect(html).toContain("42");
    expect(html).toMatch(/<span class="try-duration"> in (under 1 ms|\d+ ms|\d+(\.\d)? s)<\/span>/);
  });

  test("a bad value is refused before any call, with a message naming the field", async () => {
    const over = await tryIt(every, [["tool", "get-resource-links"], ["arg.count", "11"], ["arguments", "{}"]]);
    expect(over).toContain("count must be at most 10.");
    expect(over).not.toContain("try-duration");
    const notNumber = await tryIt(every, [["tool", "get-sum"], ["arg.a", "two"], ["arg.b", "1"], ["arguments", "{}"]]);
    expect(notNumber).toContain("a must be a number.");
    const missing = await tryIt(every, [["tool", "get-structured-content"], ["arg.location", ""], ["arguments", "{}"]]);
    expect(missing).toContain("location is required.");
    const conflict = await tryIt(every, [["tool", "get-sum"], ["arg.a", "1"], ["arg.b", "1"], ["arguments", '{"a": 2}']]);
    expect(conflict).toContain("a is given both in its field and in the JSON box, with different values: keep one.");
  });

  test("a select and an optional flag set to true reach the tool; the image it returns is shown", async () => {
    const html = await tryIt(every, [["tool", "get-annotated-message"], ["arg.messageType", "success"], ["arg.includeImage", "true"], ["arguments", "{}"]]);
    expect(html).toContain("Operation completed successfully");
    expect(html).toMatch(/<img src="data:image\/png;base64,iVBORw0KGgo[A-Za-z0-9+/=]+" alt="Image returned by the tool \(image\/png, [\d.]+ KB\)"\/>/);
    const unset = await tryIt(every, [["tool", "get-annotated-message"], ["arg.messageType", "debug"], ["arg.includeImage", ""], ["arguments", "{}"]]);
    expect(unset).toContain("Debug: Cache hit ratio");
    expect(unset).not.toContain("<img");
    expect(await tryIt(every, [["tool", "get-tiny-image"], ["arguments", "{}"]])).toContain('<img src="data:image/png;base64,');
  });

  test("structured content, embedded resources (text in a pre, a blob to download) and resource links are shown", async () => {
    const weather = await tryIt(every, [["tool", "get-structured-content"], ["arg.location", "Chicago"], ["arguments", "{}"]]);
    expect(weather).toContain('<p class="try-label">Structured content</p><pre>{\n  &quot;temperature&quot;: 36,');
    const text = await tryIt(every, [["tool", "get-resource-reference"], ["arg.resourceType", "Text"], ["arg.resourceId", "2"], ["arguments", "{}"]]);
    expect(text).toContain('Resource <code class="try-uri">demo://resource/dynamic/text/2</code>');
    expect(text).toMatch(/<pre class="try-text">Resource 2: This is a plaintext resource/);
    const blob = await tryIt(every, [["tool", "get-resource-reference"], ["arg.resourceType", "Blob"], ["arg.resourceId", "1"], ["arguments", "{}"]]);
    expect(blob).toMatch(/<a class="try-download" href="data:application\/octet-stream;base64,[A-Za-z0-9+/=]+" download="1">Download \(text\/plain, \d+ B\)<\/a>/);
    const links = await tryIt(every, [["tool", "get-resource-links"], ["arg.count", "2"], ["arguments", "{}"]]);
    expect(links).toContain('Link: <strong>Blob Resource 1 </strong><code class="try-uri">demo://resource/dynamic/blob/1</code>');
    // demo:// is not a web address: shown, not linked.
    expect(links).not.toContain('href="demo:');
  });
});

test("without JS the page comes back with the tool open, its fields as typed and its result beside its form", async () => {
  const headers = { cookie, "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" };
  const body = new URLSearchParams([["tool", "get-resource-links"], ["arg.count", "11"], ["arguments", '{"x": 1}']]).toString();
  const html = await (await t.request(`/admin/agents/${every}/try`, { method: "POST", headers, body })).text();
  const section = toolSection(html, "get-resource-links");
  expect(section).toStartWith('<details class="try-tool" open="">');
  expect(section).toContain('name="arg.count" value="11"');
  expect(section).toContain('>{&quot;x&quot;: 1}</textarea>');
  expect(section.indexOf("count must be at most 10.")).toBeGreaterThan(section.indexOf("</form>"));
  const target = /hx-target="#(try-\d+-result)"/.exec(section)![1]!;
  expect(section).toContain(`<div id="${target}" class="try-result" aria-live="polite"><div class="alert error try-outcome" role="alert" data-reveal="">`);
  // Only that tool is open and has a result.
  expect(html.match(/<details class="try-tool" open/g)).toHaveLength(1);
  expect(html.match(/try-outcome/g)).toHaveLength(1);
});

describe("a hostile upstream", () => {
  test("property names become escaped labels and encoded form names, never markup or the form's own fields; past 50 fields, the JSON box", async () => {
    const html = await (await page(hostile)).text();
    expect(html).not.toContain("<img src=x");
    expect(html).not.toContain("<b>not bold</b>");
    expect(html).toContain("&lt;b&gt;not bold&lt;/b&gt;");
    const echo = toolSection(html, "echo_args");
    expect(echo).toContain('name="arg.%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E"');
    expect(echo).toContain('name="arg.tool"');
    expect(echo).toContain('name="arg.arguments"');
    expect(echo).toContain('name="arg.x%5B%5D"');
    expect(echo.match(/name="tool"/g)).toHaveLength(1);
    expect(echo.match(/name="arguments"/g)).toHaveLength(1);
    expect(echo).toContain("Properties without a field: nested. Merged with the fields above");
    const many = toolSection(html, "many_args");
    expect(many.match(/name="arg\./g)).toHaveLength(MAX_FIELDS);
    expect(many).toContain("Properties without a field: p50, p51, p52, p53, p54, p55, p56, p57, p58, p59.");
  });

  test("the posted fields reach the tool under their own names, merged with the JSON box", async () => {
    const html = await tryIt(hostile, [
      ["tool", "echo_args"],
      ['arg.%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E', "markup"],
      ["arg.tool", "a property named tool"],
      ["arg.arguments", "7"],
      ["arg.x%5B%5D", "false"],
      ["arg.x%5B%5D", "true"],
      ["arguments", '{"nested": {"deep": [1]}}'],
    ]);
    const echoed = /<pre class="try-text">([^<]*)<\/pre>/.exec(html)![1]!.replace(/&quot;/g, '"').replace(/&amp;/g, "&").replace(/&gt;/g, ">").replace(/&lt;/g, "<");
    expect(JSON.parse(echoed)).toEqual({ nested: { deep: [1] }, '"><img src=x onerror=alert(1)>': "markup", tool: "a property named tool", arguments: 7, "x[]": true });
    expect(await tryIt(hostile, [["tool", "echo_args"], ["arg.arguments", "7.5"], ["arguments", "{}"]])).toContain("arguments must be an integer.");
    expect(await tryIt(hostile, [["tool", "echo_args"], ["arguments", "{}"]])).toContain("&quot;&gt;&lt;img src=x onerror=alert(1)&gt; is required.");
  });

  test("SVG and HTML media are never rendered, a javascript: link is not a link, an unknown block is named escaped", async () => {
    const html = await tryIt(hostile, [["tool", "hostile_content"], ["arguments", "{}"]]);
    expect(html).not.toContain("<img");
    expect(html).not.toContain("data:image/svg");
    expect(html).not.toContain("data:text/html");
    expect(html).not.toContain("<script");
    expect(html).not.toContain('href="javascript:');
    expect(html).toContain("An image of type <code>image/svg+xml</code> is not shown here");
    expect(html).toContain("An image of type <code>text/html</code> is not shown here");
    expect(html).toContain("An audio clip of type <code>text/html</code> is not shown here");
    expect(html).toMatch(/<audio controls="" src="data:audio\/wav;base64,[A-Za-z0-9+/=]+"/);
    expect(html).toContain('href="data:application/octet-stream;base64,');
    expect(html).toContain('download="passwd"');
    expect(html).toContain('<code class="try-uri">javascript:alert(4)</code>');
    expect(html).toContain("<strong>&lt;i&gt;click&lt;/i&gt; </strong>");
    expect(html).toContain('<a href="https://example.com/doc" target="_blank" rel="noopener noreferrer">');
    expect(html).toContain("<code>&lt;script&gt;</code>");
  });

  test("a huge image is described, not inlined, and the page stays small", async () => {
    const html = await tryIt(hostile, [["tool", "huge_image"], ["arguments", "{}"]]);
    expect(html).not.toContain("<img");
    expect(html).toContain("An image (image/png) is not shown: 3.0 MB, more than the 1.0 MB the page shows.");
    expect(html.length).toBeLessThan(20_000);
  });
});
