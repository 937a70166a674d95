// "Connect a client" for an agent's or a connection's endpoint: per client (Claude.ai, ChatGPT, Claude
// Code, Cursor, VS Code, Claude Desktop via mcp-remote) the one thing to paste with a browser sign-in
// (OAuth: the URL, no key) first, then the key-based variant; each with a copy button.
/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";

export const TOKEN_PLACEHOLDER = "mcp_key_…";

export type ClientSnippet = { id: string; client: string; where: string; text: string };

/** The two addresses of one endpoint: with OAuth discovery, and keys only (no discovery, for clients that would start OAuth despite a header). */
export type EndpointUrls = { url: string; keyUrl: string };

/** The addresses of an agent's or a connection's endpoint under `publicUrl`. */
export function endpointUrls(publicUrl: string, target: { kind: "agent" | "connection"; id: string }): EndpointUrls {
  const path = target.kind === "agent" ? `agent/${target.id}` : target.id;
  return { url: `${publicUrl}/mcp/${path}`, keyUrl: `${publicUrl}/mcp-key/${path}` };
}

const json = (value: unknown): string => JSON.stringify(value, null, 2);

/** With a browser sign-in: each client gets the URL alone and runs the OAuth flow itself. */
export function oauthSnippets(name: string, url: string): ClientSnippet[] {
  return [
    { id: "claude-ai", client: "Claude.ai / Claude Desktop", where: "Settings → Connectors → Add custom connector: paste the URL, then sign in and approve", text: url },
    { id: "chatgpt", client: "ChatGPT", where: "Settings → Connectors → Advanced: turn on developer mode, then Create: paste the URL (authentication: OAuth)", text: url },
    { id: "claude-code", client: "Claude Code", where: "a shell; then /mcp in Claude Code to sign in", text: `claude mcp add --transport http ${name} ${url}` },
    { id: "cursor", client: "Cursor", where: "~/.cursor/mcp.json (or .cursor/mcp.json in a project); Cursor opens the browser to sign in", text: json({ mcpServers: { [name]: { url } } }) },
    { id: "vscode", client: "VS Code", where: ".vscode/mcp.json; VS Code asks to sign in on first use", text: json({ servers: { [name]: { type: "http", url } } }) },
    { id: "mcp-remote", client: "Claude Desktop via mcp-remote", where: "claude_desktop_config.json; mcp-remote opens the browser to sign in", text: json({ mcpServers: { [name]: { command: "npx", args: ["-y", "mcp-remote", url] } } }) },
  ];
}

/**
 * With an API key in the Authorization header. Cursor is given the key-only URL: where the server
 * offers OAuth discovery it starts a sign-in and drops the configured header. Claude.ai and ChatGPT
 * send no custom headers, so they have no key variant.
 */
export function keySnippets(name: string, urls: EndpointUrls, token = TOKEN_PLACEHOLDER): ClientSnippet[] {
  const authorization = `Bearer ${token}`;
  const { url, keyUrl } = urls;
  return [
    { id: "claude-code", client: "Claude Code", where: "a shell", text: `claude mcp add --transport http ${name} ${url} --header "Authorization: ${authorization}"` },
    {
      id: "cursor",
      client: "Cursor",
      where: "~/.cursor/mcp.json; note the key-only URL (/mcp-key/…), so Cursor does not start a sign-in instead",
      text: json({ mcpServers: { [name]: { url: keyUrl, headers: { Authorization: authorization } } } }),
    },
    { id: "vscode", client: "VS Code", where: ".vscode/mcp.json", text: json({ servers: { [name]: { type: "http", url, headers: { Authorization: authorization } } } }) },
    {
      id: "claude-desktop",
      client: "Claude Desktop via mcp-remote",
      where: "claude_desktop_config.json",
      text: json({
        mcpServers: { [name]: { command: "npx", args: ["-y", "mcp-remote", url, "--header", "Authorization:${SB_AUTH}"], env: { SB_AUTH: authorization } } },
      }),
    },
  ];
}

/**
 * A script's check that a key works: an MCP initialize request with curl (an agent's or a connection's
 * endpoint keeps sessions, so a bare tools/list would be refused before initialize).
 */
export function curlSnippet(url: string, token = TOKEN_PLACEHOLDER): ClientSnippet {
  const initialize = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "curl", version: "1" } } });
  return {
    id: "curl",
    client: "curl (scripts)",
    where: "a shell: answers with the server's name and capabilities when the key works",
    text: `curl -sS ${url} -H "Authorization: Bearer ${token}" -H "Content-Type: application/json" -H "Accept: application/json, text/event-stream" -d '${initialize}'`,
  };
}

/** Each snippet folded under its client's name with a copy button; ids are `prefix` + the snippet's id. */
export function Snippets(props: { snippets: ClientSnippet[]; prefix: string; openFirst: boolean }): Child {
  return (
    <>
      {props.snippets.map((s, i) => (
        <details class="snippet" open={props.openFirst && i === 0}>
          <summary>
            <strong>{s.client}</strong> <span class="muted small">· {s.where}</span>{" "}
            <button type="button" class="secondary small" data-copy={`#${props.prefix}${s.id}`}>Copy</button>
          </summary>
          <pre id={`${props.prefix}${s.id}`}>{s.text}</pre>
        </details>
      ))}
    </>
  );
}

/** The snippets of an agent or a connection, OAuth first, named `name` (its slug). */
export function ClientConfigs(props: { name: string; urls: EndpointUrls; keyHref: string; what: "agent" | "connection"; oauth: boolean }) {
  return (
    <section class="panel" id="client-configs">
      <h2 style="margin-top:0">Connect a client</h2>
      {props.oauth ? (
        <>
          <h3>With a browser sign-in (recommended)</h3>
          <p class="muted">
            Paste the URL alone: the client opens the browser, you sign in to Switchboard and approve it for this {props.what}.
            Approved clients are listed under <a href="/admin/apps">Authorized apps</a>. Claude.ai and ChatGPT connect from their own
            servers, so Switchboard's public URL must be reachable from the internet over HTTPS.
          </p>
          <Snippets snippets={oauthSnippets(props.name, props.urls.url)} prefix="client-" openFirst={true} />
        </>
      ) : (
        <p class="muted">The browser sign-in (OAuth) is switched off on this server (<code>[oauth] enabled = false</code>): clients connect with an API key.</p>
      )}
      <h3>With an API key</h3>
      <p class="muted">
        For scripts and clients you configure with a header. Replace <code>{TOKEN_PLACEHOLDER}</code> with a key that grants this {props.what}{" "}
        (<a href={props.keyHref}>create a key for this {props.what}</a>; its token is shown once). Claude.ai and ChatGPT cannot send a key.
      </p>
      <Snippets snippets={keySnippets(props.name, props.urls)} prefix="client-key-" openFirst={!props.oauth} />
    </section>
  );
}
