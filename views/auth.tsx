// Sign-in and first-admin setup pages, and the message fragment htmx swaps in when a submission fails.
/** @jsxImportSource hono/jsx */
import { Alert } from "./alert.tsx";
import { BareLayout } from "./layout.tsx";

/** Why the sign-in page was opened, when the server sent the browser there: each maps to one fixed text. */
export type SignInNotice = "signed_out" | "session_ended";

const NOTICES: Record<SignInNotice, string> = {
  signed_out: "You are signed out.",
  session_ended: "Your session ended; sign in again.",
};

/** The message slot of an auth form; a failed htmx submission replaces its contents. */
export function FormMessage(props: { message?: string }) {
  return props.message ? <div class="alert error" role="alert">{props.message}</div> : <></>;
}

/**
 * The sign-in form. A notice (signed out, session ended) sits in the message slot, so a failed attempt
 * replaces it rather than showing beside the error.
 */
export function LoginPage(props: { next: string; email?: string; message?: string; notice?: SignInNotice }) {
  return (
    <BareLayout title="Sign in">
      <h1>Sign in to Switchboard</h1>
      <form class="panel" method="post" action="/admin/login" hx-post="/admin/login" hx-target="#form-message">
        <div id="form-message">
          {props.message ? <FormMessage message={props.message} /> : props.notice && <Alert message={{ kind: "ok", text: NOTICES[props.notice] }} />}
        </div>
        <input type="hidden" name="next" value={props.next} />
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required value={props.email ?? ""} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <button type="submit">Sign in</button>
      </form>
    </BareLayout>
  );
}

export function SetupPage(props: { token: string; email?: string; message?: string }) {
  return (
    <BareLayout title="Create the first admin">
      <h1>Welcome to Switchboard</h1>
      <p class="muted">Create the first admin account. This link works once.</p>
      <form class="panel" method="post" action="/admin/setup" hx-post="/admin/setup" hx-target="#form-message">
        <div id="form-message"><FormMessage message={props.message} /></div>
        <input type="hidden" name="token" value={props.token} />
        <label for="email">Email</label>
        <input id="email" name="email" type="email" autocomplete="username" required value={props.email ?? ""} />
        <label for="password">Password (at least 10 characters)</label>
        <input id="password" name="password" type="password" autocomplete="new-password" minlength={10} required />
        <label for="confirm">Repeat the password</label>
        <input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength={10} required />
        <button type="submit">Create admin and sign in</button>
      </form>
    </BareLayout>
  );
}

export function SetupClosedPage() {
  return (
    <BareLayout title="Setup">
      <h1>Setup link not valid</h1>
      <div class="alert error" role="alert">
        This setup link is not valid or has been used. If no admin exists yet, restart Switchboard to print a new link,
        or create one with <code>switchboard user create --role admin</code>.
      </div>
      <p><a href="/admin/login">Go to sign-in</a></p>
    </BareLayout>
  );
}
