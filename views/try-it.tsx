// "Try it" on an agent's page: call one of its tools as the signed-in user, and the fragment htmx swaps
// in with the result.
/** @jsxImportSource hono/jsx */
import type { AgentDetailView } from "../src/operations/agent-shapes.ts";

/** A "Try it" call: the tool, the arguments as typed, and the result or the error. */
export type TryOutcome = { tool: string; args: string; result?: Record<string, unknown>; error?: string };

/** The result of a "Try it" call, swapped into #try-result. */
export function TryResult(props: { outcome: TryOutcome }) {
  const { outcome } = props;
  const failed = outcome.error !== undefined || outcome.result?.isError === true;
  const texts = ((outcome.result?.content as { type: string; text?: string }[] | undefined) ?? []).filter((c) => c.type === "text").map((c) => c.text ?? "");
  return (
    <div id="try-outcome" class={`alert ${failed ? "error" : "ok"}`} role="status">
      <strong>{outcome.tool}</strong>: {outcome.error !== undefined ? outcome.error : failed ? "the tool reported an error" : "done"}
      {texts.length > 0 && <pre class="try-text">{texts.join("\n")}</pre>}
      {outcome.result && (
        <details>
          <summary>Full result</summary>
          <pre>{JSON.stringify(outcome.result, null, 2)}</pre>
        </details>
      )}
    </div>
  );
}

export function TryIt(props: { a: AgentDetailView; outcome?: TryOutcome }) {
  const tools = props.a.tools.filter((t) => !t.missing);
  const action = `/admin/agents/${props.a.id}/try`;
  return (
    <section class="panel" id="try-it">
      <h2 style="margin-top:0">Try it</h2>
      <p class="muted small">Calls a tool through the agent as you, with the same checks as a client's call.</p>
      <div id="try-result">{props.outcome && <TryResult outcome={props.outcome} />}</div>
      {tools.length === 0 ? (
        <p class="muted">No tools to call.</p>
      ) : (
        tools.map((t) => (
          <details class="try-tool" open={props.outcome?.tool === t.name}>
            <summary><code>{t.name}</code> <span class="muted small">{t.description ?? ""}</span></summary>
            <pre class="schema">{JSON.stringify(t.input_schema ?? { type: "object" }, null, 2)}</pre>
            <form method="post" action={action} hx-post={action} hx-target="#try-result" hx-swap="innerHTML">
              <input type="hidden" name="tool" value={t.name} />
              <label for={`try-${t.name}`}>Arguments (JSON)</label>
              <textarea id={`try-${t.name}`} name="arguments" rows={3}>{props.outcome?.tool === t.name ? props.outcome.args : "{}"}</textarea>
              <button type="submit">Call {t.name}</button>
            </form>
          </details>
        ))
      )}
    </section>
  );
}

