// One way to say what happened on an admin page: an ok message is a polite live region (role=status),
// an error an assertive one (role=alert). `reveal` scrolls it into view when it appears (data-reveal).
/** @jsxImportSource hono/jsx */

export type Message = { kind: "ok" | "error"; text: string };

export function Alert(props: { message?: Message; reveal?: boolean; id?: string }) {
  const m = props.message;
  if (!m) return null;
  return (
    <div id={props.id} class={`alert ${m.kind}`} role={m.kind === "error" ? "alert" : "status"} data-reveal={props.reveal ? "" : undefined}>
      {m.text}
    </div>
  );
}
