// What "Try it" shows of a result (views/try-it-result.tsx): images and audio only of allowed types and
// under the size cap, embedded resources as text or a download of bytes, links only for http(s), every
// upstream string escaped, long strings cut in the full result, and the call's duration.
import { describe, expect, test } from "bun:test";
import { callDuration, MAX_JSON_CHARS, renderJson, TryResult, type TryOutcome } from "../../views/try-it-result.tsx";

const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
const SCRIPT_SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>').toString("base64");

function render(result: Record<string, unknown>, extra: Partial<TryOutcome> = {}): string {
  return String(TryResult({ outcome: { tool: "t", args: "{}", result, ...extra } }));
}

describe("media", () => {
  test("an allowed image is an <img> with a data: URL of its type; audio an <audio controls>", () => {
    const html = render({ content: [{ type: "image", mimeType: "image/PNG", data: PNG }, { type: "audio", mimeType: "audio/wav", data: "UklGRg==" }] });
    expect(html).toContain(`<img src="data:image/png;base64,${PNG}"`);
    expect(html).toContain('<audio controls="" src="data:audio/wav;base64,UklGRg=="');
    expect(html).toContain("image/png, 70 B");
  });

  test("SVG, HTML and unknown types are described, never put in the page as media", () => {
    for (const mimeType of ["image/svg+xml", "text/html", "image/svg+xml; charset=utf-8", "application/javascript", undefined]) {
      const html = render({ content: [{ type: "image", mimeType, data: SCRIPT_SVG }, { type: "audio", mimeType, data: SCRIPT_SVG }] });
      expect(html).not.toContain("<img");
      expect(html).not.toContain("<audio");
      expect(html).not.toContain("data:");
      expect(html).not.toContain("<script");
      expect(html).toContain("is not shown here");
    }
  });

  test("a payload past the cap, or not base64, is described, and the full result shows only the start of it", () => {
    // 3 MiB decoded: past the cap.
    const huge = "A".repeat(4 * 1024 * 1024);
    const html = render({ content: [{ type: "image", mimeType: "image/png", data: huge }, { type: "image", mimeType: "image/png", data: '"><script>x</script>' }] });
    expect(html).not.toContain("<img");
    expect(html).toContain("is not shown: 3.0 MB, more than the 1.0 MB the page shows");
    expect(html).toContain("is not shown: its data is not base64");
    expect(html.length).toBeLessThan(10_000);
    expect(html).toContain(`characters, cut here`);
    expect(html).not.toContain("<script");
  });
});

describe("resources and links", () => {
  test("an embedded text resource is shown in a pre; a blob is a download of bytes named safely", () => {
    const html = render({
      content: [
        { type: "resource", resource: { uri: "demo://resource/text/1", mimeType: "text/plain", text: "<b>hello</b>" } },
        { type: "resource", resource: { uri: "demo://x/../evil name.html", mimeType: "text/html", blob: "PGgxPmhpPC9oMT4=" } },
      ],
    });
    expect(html).toContain('<pre class="try-text">&lt;b&gt;hello&lt;/b&gt;</pre>');
    expect(html).toContain('href="data:application/octet-stream;base64,PGgxPmhpPC9oMT4=" download="evil_name.html"');
    expect(html).toContain("Download (text/html, 11 B)");
    expect(html).not.toContain("data:text/html");
  });

  test("a resource link is a link only for http(s), opened without opener or referrer; others are shown as text", () => {
    const html = render({
      content: [
        { type: "resource_link", uri: "https://example.com/a?b=<c>", name: "Doc", mimeType: "text/plain", description: "A doc" },
        { type: "resource_link", uri: "javascript:alert(1)", name: "bad" },
        { type: "resource_link", uri: "demo://resource/1", name: "demo" },
      ],
    });
    expect(html).toContain('<a href="https://example.com/a?b=%3Cc%3E" target="_blank" rel="noopener noreferrer">');
    expect(html).not.toContain('href="javascript:');
    expect(html).toContain('<code class="try-uri">javascript:alert(1)</code>');
    expect(html).toContain('<code class="try-uri">demo://resource/1</code>');
    expect(html.match(/<a /g)).toHaveLength(1);
  });

  test("blocks that are not objects, without fields or of unknown types say so; structured content is shown", () => {
    const html = render({ content: [null, 3, { type: "text" }, { type: "resource" }, { type: "<x>" }], structuredContent: { temperature: 33 } });
    expect(html).toContain("A content block that is not an object");
    expect(html).toContain("A text block without text.");
    expect(html).toContain("A resource block without a resource");
    expect(html).toContain("<code>&lt;x&gt;</code>");
    expect(html).toContain('<p class="try-label">Structured content</p><pre>{\n  &quot;temperature&quot;: 33\n}</pre>');
  });

  test("a result of many blocks shows the first hundred; long lists in the JSON are cut", () => {
    const html = render({ content: Array.from({ length: 1000 }, (_, i) => ({ type: "text", text: `block ${i}` })) });
    expect(html).toContain('<pre class="try-text">block 99</pre>');
    expect(html).not.toContain('<pre class="try-text">block 100</pre>');
    expect(html).toContain("… and 900 more content blocks: see the full result.");
    expect(html).toContain("&quot;text&quot;: &quot;block 499&quot;");
    expect(html).not.toContain("&quot;block 500&quot;");
    expect(html).toContain("… 500 more items");
  });

  test("deep nesting is cut, not a crash", () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 5000; i++) deep = [deep];
    const html = render({ content: [], structuredContent: { deep } });
    expect(html).toContain("nested too deep to show");
  });
});

describe("the page is not many times the answer", () => {
  test("deeply nested small items: the fragment stays under 4× the upstream's answer", () => {
    // Arrays nested 26 deep, each leaf 400 small numbers: compact JSON is ~2 bytes per number, indented ~56.
    let leaf: unknown = Array.from({ length: 400 }, () => 0);
    for (let d = 0; d < 26; d++) leaf = [leaf];
    const result = { content: [], structuredContent: { v: Array.from({ length: 20 }, () => leaf) } };
    const html = render(result);
    expect(html.length).toBeLessThan(JSON.stringify(result).length * 4);
  });

  test("structured content is printed once: the full result says it is shown above", () => {
    const html = render({ content: [], structuredContent: { marker: "only-once-please" } });
    expect(html.match(/only-once-please/g)).toHaveLength(1);
    expect(html).toContain("Its structured content is shown above.");
    expect(render({ content: [{ type: "text", text: "x" }] })).not.toContain("shown above");
  });

  test("rendered JSON has a total budget, then says it was cut; small values stay indented", () => {
    const big = Array.from({ length: 500 }, (_, i) => Array.from({ length: 500 }, () => `item ${i}`));
    const text = renderJson(big);
    expect(text.length).toBeLessThan(MAX_JSON_CHARS + 100);
    expect(text).toMatch(/\n… cut: \d+ more characters not shown$/);
    expect(renderJson({ a: 1 })).toBe('{\n  "a": 1\n}');
  });
});

describe("the summary", () => {
  test("the duration measured by the server; an error result is an alert", () => {
    expect(callDuration(143.4)).toBe("in 143 ms");
    expect(callDuration(0.2)).toBe("in under 1 ms");
    expect(callDuration(2345)).toBe("in 2.3 s");
    const ok = render({ content: [{ type: "text", text: "42" }] }, { durationMs: 143.4 });
    expect(ok).toStartWith('<div class="alert ok try-outcome" data-reveal="">');
    expect(ok).toContain('<span class="try-duration"> in 143 ms</span>');
    const failed = render({ content: [], isError: true });
    expect(failed).toStartWith('<div class="alert error try-outcome" role="alert" data-reveal="">');
  });
});
