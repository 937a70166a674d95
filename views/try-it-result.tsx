// The result of a "Try it" call as the page shows it: each content block in order (text; images and audio
// of allowed types inline; embedded resources and resource links), the structured content, the call's
// duration and the full result, folded. The result is the upstream's (hostile data): every field is
// checked before use, media are shown only for an allowlist of types (never SVG or HTML, which could
// carry script) and under a size cap, links only for http(s), and long strings are cut.
/** @jsxImportSource hono/jsx */
import type { HtmlEscapedString } from "hono/utils/html";
import { formatMs } from "./charts.tsx";

/** A "Try it" call: the tool, the arguments as typed (JSON box and fields), and the result or the error. */
export type TryOutcome = {
  tool: string;
  args: string;
  /** The posted values of the form's fields, by field name, to fill the form again. */
  values?: Record<string, string>;
  result?: Record<string, unknown>;
  error?: string;
  /** How long the call took, measured by the server around it. */
  durationMs?: number;
};

/** Images shown inline. SVG is left out on purpose: it can carry script. */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const AUDIO_TYPES = new Set(["audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/mp3", "audio/ogg", "audio/webm", "audio/aac", "audio/mp4", "audio/flac"]);
/** Decoded bytes past which a medium or blob is described rather than put in the page. */
export const MAX_INLINE_BYTES = 1024 * 1024;
/** Characters of one text block shown; the rest is counted. */
export const MAX_TEXT_CHARS = 100_000;
/** Strings of the full result and structured content longer than this are cut (a base64 image, say). */
export const MAX_JSON_STRING = 2_000;
const MAX_JSON_DEPTH = 32;
/** Characters of one rendered JSON block (structured content, full result) the page holds; the rest is cut. */
export const MAX_JSON_CHARS = 256 * 1024;
/** Items of one array (or entries of one object) shown in the JSON, and content blocks shown above it. */
export const MAX_JSON_ITEMS = 500;
export const MAX_BLOCKS = 100;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

type Block = Record<string, unknown>;

function isObject(value: unknown): value is Block {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** "image/PNG; x=y" → "image/png"; null when absent. */
function mediaType(value: unknown): string | null {
  const s = str(value);
  return s === null ? null : s.split(";")[0]!.trim().toLowerCase().slice(0, 100);
}

/** "812 B", "1.2 KB", "3.4 MB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The decoded size of base64 text (its length says it, before any check of its characters). */
function base64Size(data: string): number {
  return Math.floor((data.length * 3) / 4) - (data.endsWith("==") ? 2 : data.endsWith("=") ? 1 : 0);
}

/** Base64 `data` that may go into a data: URL, or why not. */
function inlineData(data: unknown): { ok: true; data: string; size: number } | { ok: false; why: string } {
  const s = str(data);
  if (s === null) return { ok: false, why: "it carries no data" };
  const size = base64Size(s);
  if (size > MAX_INLINE_BYTES) return { ok: false, why: `${formatBytes(size)}, more than the ${formatBytes(MAX_INLINE_BYTES)} the page shows` };
  if (s.length % 4 !== 0 || !BASE64.test(s)) return { ok: false, why: "its data is not base64" };
  return { ok: true, data: s, size };
}

/** A text cut to `max` characters, saying how many were left out. */
function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n… ${text.length - max} more characters not shown`;
}

/** A copy of `value` for display: long strings and long lists cut, deep nesting stopped. */
export function displayJson(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return value.length > MAX_JSON_STRING ? `${value.slice(0, 200)}… (${value.length} characters, cut here)` : value;
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_JSON_DEPTH) return "… (nested too deep to show)";
  if (Array.isArray(value)) {
    const shown = value.slice(0, MAX_JSON_ITEMS).map((v) => displayJson(v, depth + 1));
    return value.length > MAX_JSON_ITEMS ? [...shown, `… ${value.length - MAX_JSON_ITEMS} more items`] : shown;
  }
  const entries = Object.entries(value);
  const shown = entries.slice(0, MAX_JSON_ITEMS).map(([k, v]) => [k, displayJson(v, depth + 1)]);
  if (entries.length > MAX_JSON_ITEMS) shown.push(["…", `${entries.length - MAX_JSON_ITEMS} more entries`]);
  return Object.fromEntries(shown);
}

/**
 * `value` (already through displayJson) as JSON text for the page. Indented only while that costs at most
 * twice the compact text: indentation grows with depth, so a hostile answer of deeply nested small items
 * would otherwise come back many times its size. Never more than MAX_JSON_CHARS.
 */
export function renderJson(value: unknown): string {
  const compact = JSON.stringify(value) ?? "null";
  // Past half the budget the text is cut anyway; pretty-printing it first would only cost memory.
  const pretty = compact.length <= MAX_JSON_CHARS / 2 ? JSON.stringify(value, null, 2) : compact;
  const text = pretty.length <= 2 * compact.length ? pretty : compact;
  return text.length <= MAX_JSON_CHARS ? text : `${text.slice(0, MAX_JSON_CHARS)}\n… cut: ${text.length - MAX_JSON_CHARS} more characters not shown`;
}

function Note(props: { children: unknown }) {
  return <p class="try-note">{props.children}</p>;
}

function Media(props: { block: Block; kind: "image" | "audio" }) {
  const { block, kind } = props;
  const type = mediaType(block.mimeType);
  const allowed = kind === "image" ? IMAGE_TYPES : AUDIO_TYPES;
  const what = kind === "image" ? "An image" : "An audio clip";
  if (type === null || !allowed.has(type)) {
    return <Note>{what} of type <code>{type ?? "unknown"}</code> is not shown here (only {kind === "image" ? "PNG, JPEG, GIF and WebP" : "WAV, MP3, Ogg, WebM, AAC, MP4 and FLAC"}): see the full result.</Note>;
  }
  const data = inlineData(block.data);
  if (!data.ok) return <Note>{what} ({type}) is not shown: {data.why}.</Note>;
  // The type in the URL is one of the allowlist's constants, never the upstream's string.
  const src = `data:${type};base64,${data.data}`;
  const caption = `${type}, ${formatBytes(data.size)}`;
  return (
    <figure class="try-media">
      {kind === "image" ? <img src={src} alt={`Image returned by the tool (${caption})`} /> : <audio controls src={src} aria-label={`Audio returned by the tool (${caption})`}></audio>}
      <figcaption class="muted small">{caption}</figcaption>
    </figure>
  );
}

/** A file name for a download, made of safe characters from the resource's URI. */
function downloadName(uri: string | null): string {
  const last = (uri ?? "").split(/[/\\?#]/).filter((s) => s !== "").pop() ?? "";
  const safe = last.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "").slice(0, 80);
  return safe === "" ? "resource.bin" : safe;
}

function EmbeddedResource(props: { block: Block }) {
  const resource = isObject(props.block.resource) ? props.block.resource : null;
  if (!resource) return <Note>A resource block without a resource: see the full result.</Note>;
  const uri = str(resource.uri);
  const type = mediaType(resource.mimeType);
  const text = str(resource.text);
  const head = (
    <p class="try-label">
      Resource {uri !== null ? <code class="try-uri">{uri.slice(0, 2000)}</code> : <span class="muted">(no URI)</span>}
      {type && <span class="muted small"> {type}</span>}
    </p>
  );
  if (text !== null) {
    return (
      <div class="try-resource">
        {head}
        <pre class="try-text">{clip(text, MAX_TEXT_CHARS)}</pre>
      </div>
    );
  }
  const blob = inlineData(resource.blob);
  return (
    <div class="try-resource">
      {head}
      {blob.ok ? (
        // Downloaded as bytes whatever type the upstream named: the browser never renders it.
        <p><a class="try-download" href={`data:application/octet-stream;base64,${blob.data}`} download={downloadName(uri)}>Download ({type ?? "unknown type"}, {formatBytes(blob.size)})</a></p>
      ) : (
        <Note>The resource's content is not offered for download: {blob.why}.</Note>
      )}
    </div>
  );
}

/** A URL the page may link to: http and https only (no javascript:, data:, file:, …). */
function webUrl(uri: string | null): string | null {
  if (uri === null) return null;
  try {
    const url = new URL(uri);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function ResourceLink(props: { block: Block }) {
  const { block } = props;
  const uri = str(block.uri);
  const name = str(block.title) ?? str(block.name);
  const type = mediaType(block.mimeType);
  const description = str(block.description);
  const href = webUrl(uri);
  const shownUri = uri?.slice(0, 2000) ?? "(no URI)";
  return (
    <div class="try-resource try-link">
      <p class="try-label">
        Link: {name && <strong>{name.slice(0, 500)} </strong>}
        {href ? <a href={href} target="_blank" rel="noopener noreferrer"><code class="try-uri">{shownUri}</code></a> : <code class="try-uri">{shownUri}</code>}
        {type && <span class="muted small"> {type}</span>}
      </p>
      {description && <p class="muted small">{description.slice(0, 1000)}</p>}
    </div>
  );
}

/** One content block of a result, as the page shows it. */
function ContentBlock(props: { block: unknown }) {
  const { block } = props;
  if (!isObject(block)) return <Note>A content block that is not an object: see the full result.</Note>;
  switch (block.type) {
    case "text": {
      const text = str(block.text);
      return text === null ? <Note>A text block without text.</Note> : <pre class="try-text">{clip(text, MAX_TEXT_CHARS)}</pre>;
    }
    case "image":
      return <Media block={block} kind="image" />;
    case "audio":
      return <Media block={block} kind="audio" />;
    case "resource":
      return <EmbeddedResource block={block} />;
    case "resource_link":
      return <ResourceLink block={block} />;
    default:
      return <Note>A content block of type <code>{String(str(block.type) ?? "unknown").slice(0, 100)}</code>: see the full result.</Note>;
  }
}

/** "in 143 ms", "in 2.3 s". */
export function callDuration(ms: number): string {
  return ms < 1 ? "in under 1 ms" : `in ${formatMs(ms)}`;
}

/** The result of a "Try it" call, swapped in beside the tool's form; it scrolls itself into view. */
export function TryResult(props: { outcome: TryOutcome }): HtmlEscapedString | Promise<HtmlEscapedString> {
  const { outcome } = props;
  const result = outcome.result;
  const failed = outcome.error !== undefined || result?.isError === true;
  const content = Array.isArray(result?.content) ? (result.content as unknown[]) : [];
  const structured = result?.structuredContent;
  const summary = outcome.error !== undefined ? outcome.error : failed ? "the tool reported an error" : "done";
  return (
    <div class={`alert ${failed ? "error" : "ok"} try-outcome`} role={failed ? "alert" : undefined} data-reveal="">
      <p class="try-summary">
        <strong>{outcome.tool}</strong>: {summary}
        {outcome.durationMs !== undefined && <span class="try-duration"> {callDuration(outcome.durationMs)}</span>}
      </p>
      {content.slice(0, MAX_BLOCKS).map((block) => <ContentBlock block={block} />)}
      {content.length > MAX_BLOCKS && <Note>… and {content.length - MAX_BLOCKS} more content blocks: see the full result.</Note>}
      {structured !== undefined && (
        <div class="try-structured">
          <p class="try-label">Structured content</p>
          <pre>{renderJson(displayJson(structured))}</pre>
        </div>
      )}
      {result && (
        <details class="try-full">
          <summary>Full result</summary>
          {/* The structured content is printed once, above; the rest of the result here. */}
          {structured !== undefined && <p class="muted small">Its structured content is shown above.</p>}
          <pre>{renderJson(displayJson(structured === undefined ? result : { ...result, structuredContent: undefined }))}</pre>
        </details>
      )}
    </div>
  );
}
