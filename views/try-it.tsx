// "Try it" on an agent's page: call one of its tools as the signed-in user from a form built from the
// tool's input schema (views/try-it-fields.ts), and the fragment htmx swaps in beside that tool's form
// with the result (views/try-it-result.tsx).
/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import type { AgentDetailView } from "../src/operations/agent-shapes.ts";
import { restSummary, tryPlan, type TryField } from "./try-it-fields.ts";
import { TryResult, type TryOutcome } from "./try-it-result.tsx";

export { TryResult, type TryOutcome };

/** One field of the form, with its label, "required" mark and hint. */
function Field(props: { field: TryField; id: string; value: string | null }) {
  const { field, id } = props;
  const hint = field.description ? `${id}-hint` : undefined;
  const value = props.value ?? field.initial;
  const label = (
    <>
      <code>{field.name}</code>
      {field.required && <span class="try-required"> (required)</span>}
    </>
  );
  const hintText = hint && <p class="try-hint muted small" id={hint}>{field.description}</p>;
  if (field.kind === "boolean" && field.required) {
    return (
      <div class="try-field">
        {/* A required flag: sent whether ticked or not, so an unticked box reads as false; a ticked one adds a later "true". */}
        <input type="hidden" name={field.key} value="false" />
        <label class="check" for={id}>
          <input type="checkbox" id={id} name={field.key} value="true" checked={value === "true"} aria-describedby={hint} /> {label}
        </label>
        {hintText}
      </div>
    );
  }
  return (
    <div class="try-field">
      <label for={id}>{label}</label>
      {field.kind === "boolean" ? (
        // An optional flag may also be left out, which to many tools differs from false: three ways, not a box.
        <select id={id} name={field.key} aria-describedby={hint}>
          <option value="">(not set)</option>
          <option value="true" selected={value === "true"}>true</option>
          <option value="false" selected={value === "false"}>false</option>
        </select>
      ) : field.kind === "choice" ? (
        <select id={id} name={field.key} aria-required={field.required ? "true" : undefined} aria-describedby={hint}>
          <option value="">{field.required ? "Choose…" : "(not set)"}</option>
          {field.choices.map((choice) => (
            <option value={choice} selected={choice === value}>{choice}</option>
          ))}
        </select>
      ) : field.kind === "text" ? (
        <input type="text" id={id} name={field.key} value={value ?? ""} aria-required={field.required ? "true" : undefined} aria-describedby={hint} />
      ) : (
        <input
          type="number"
          id={id}
          name={field.key}
          value={value ?? ""}
          step={field.kind === "integer" ? "1" : "any"}
          min={field.minimum ?? undefined}
          max={field.maximum ?? undefined}
          aria-required={field.required ? "true" : undefined}
          aria-describedby={hint}
        />
      )}
      {hintText}
    </div>
  );
}

/** One tool: its form, the place its result lands (a live region), and its input schema, folded. */
function TryTool(props: { t: AgentDetailView["tools"][number]; index: number; action: string; outcome?: TryOutcome }) {
  const { t, index, action } = props;
  // Ids come from the tool's position, never from upstream names.
  const id = `try-${index}`;
  const mine = props.outcome?.tool === t.name ? props.outcome : undefined;
  const plan = tryPlan(t.input_schema);
  const jsonHint = plan.jsonOnly
    ? "This schema cannot be shown as a form: give the arguments here."
    : plan.fields.length === 0
      ? null
      : `${plan.rest.length > 0 ? `Properties without a field: ${restSummary(plan.rest)}. ` : ""}Merged with the fields above; a property given in both must have the same value in both.`;
  return (
    <details class="try-tool" open={mine !== undefined}>
      <summary><code>{t.name}</code> <span class="muted small">{t.description ?? ""}</span></summary>
      <form class="try-form" method="post" action={action} hx-post={action} hx-target={`#${id}-result`} hx-swap="innerHTML" data-busy="Calling…">
        <input type="hidden" name="tool" value={t.name} />
        {plan.fields.map((field, i) => <Field field={field} id={`${id}-f${i}`} value={mine?.values?.[field.key] ?? null} />)}
        <label for={`${id}-json`}>{plan.fields.length > 0 ? "More arguments (JSON)" : "Arguments (JSON)"}</label>
        {jsonHint !== null && (
          <p class="try-hint muted small" id={`${id}-json-hint`}>
            {jsonHint}
          </p>
        )}
        <textarea id={`${id}-json`} name="arguments" rows={plan.fields.length > 0 ? 2 : 3} aria-describedby={jsonHint !== null ? `${id}-json-hint` : undefined}>
          {mine ? mine.args : "{}"}
        </textarea>
        <button type="submit">Call {t.name}</button>
      </form>
      <div id={`${id}-result`} class="try-result" aria-live="polite">
        {mine && <TryResult outcome={mine} />}
      </div>
      <details class="try-schema">
        <summary>Input schema</summary>
        <pre class="schema">{JSON.stringify(t.input_schema ?? { type: "object" }, null, 2)}</pre>
      </details>
    </details>
  );
}

/** The "Try it" panel: every tool the agent exposes now, each with its form and its result. */
export function TryIt(props: { a: AgentDetailView; outcome?: TryOutcome }): Child {
  const tools = props.a.tools.filter((t) => !t.missing);
  const action = `/admin/agents/${props.a.id}/try`;
  return (
    <section class="panel" id="try-it">
      <h2 style="margin-top:0">Try it</h2>
      <p class="muted small">Calls a tool through the agent as you, with the same checks as a client's call.</p>
      {tools.length === 0 ? (
        <p class="muted">No tools to call.</p>
      ) : (
        tools.map((t, index) => <TryTool t={t} index={index} action={action} outcome={props.outcome} />)
      )}
    </section>
  );
}
