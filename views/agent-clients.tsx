// Ready-to-paste MCP client configurations for an agent's endpoint (Cursor, Claude Desktop, VS Code,
// Claude Code), each with a copy button. The token is a placeholder: tokens are shown only once, when a key is made.
/** @jsxImportSource hono/jsx */

export const TOKEN_PLACEHOLDER = "mcp_key_…";

export type ClientSnippet = { id: string; client: string; where: string; text: string };

/** The four configurations, for a server named `name` at `url`. */
export function clientSnippets(name: string, url: string, token = TOKEN_PLACEHOLDER): ClientSnippet[] {
  const authorization = `Bearer ${token}`;
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  return [
    {
      id: "cursor",
      client: "Cursor",
      where: "~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
      text: json({ mcpServers: { [name]: { url, headers: { Authorization: authorization } } } }),
    },
    {
      id: "claude-desktop",
      client: "Claude Desktop",
      where: "claude_desktop_config.json; it reaches remote servers with headers through mcp-remote",
      text: json({
        mcpServers: { [name]: { command: "npx", args: ["-y", "mcp-remote", url, "--header", "Authorization:${SB_AUTH}"], env: { SB_AUTH: authorization } } },
      }),
    },
    {
      id: "vscode",
      client: "VS Code",
      where: ".vscode/mcp.json",
      text: json({ servers: { [name]: { type: "http", url, headers: { Authorization: authorization } } } }),
    },
    {
      id: "claude-code",
      client: "Claude Code",
      where: "a shell",
      text: `claude mcp add --transport http ${name} ${url} --header "Authorization: ${authorization}"`,
    },
  ];
}

/** The snippets with copy buttons, and where to get a token. */
export function ClientConfigs(props: { name: string; url: string; keyHref: string }) {
  return (
    <section class="panel" id="client-configs">
      <h2 style="margin-top:0">Connect a client</h2>
      <p class="muted">
        Replace <code>{TOKEN_PLACEHOLDER}</code> with an API key that grants this agent (<a href={props.keyHref}>create a key for this agent</a>; its token is shown once).
      </p>
      {clientSnippets(props.name, props.url).map((s, i) => (
        <details class="snippet" open={i === 0}>
          <summary>
            <strong>{s.client}</strong> <span class="muted small">· {s.where}</span>{" "}
            <button type="button" class="secondary small" data-copy={`#client-${s.id}`}>Copy</button>
          </summary>
          <pre id={`client-${s.id}`}>{s.text}</pre>
        </details>
      ))}
    </section>
  );
}
