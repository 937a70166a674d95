// The page an invite link opens (the invitee is not signed in): choose a password and join; and the one
// page every link that does not work shows, whatever the reason.
/** @jsxImportSource hono/jsx */
import { Alert } from "./alert.tsx";
import { BareLayout } from "./layout.tsx";

export function InvitePage(props: { token: string; email: string; role: string; message?: string }) {
  return (
    <BareLayout title="Join Switchboard">
      <h1>Join Switchboard</h1>
      <p class="muted invite-intro">
        You are invited as <strong>{props.role === "admin" ? "an admin" : "a member"}</strong>. Choose a password to finish.
      </p>
      <form class="panel" method="post" action={`/admin/invite/${props.token}`} data-busy="Joining…">
        <div id="form-message"><Alert message={props.message ? { kind: "error", text: props.message } : undefined} reveal /></div>
        <label for="email">Email</label>
        <input id="email" name="username" type="email" autocomplete="username" value={props.email} readonly />
        <label for="password">Password (at least 10 characters)</label>
        <input id="password" name="password" type="password" autocomplete="new-password" minlength={10} required />
        <label for="confirm">Repeat the password</label>
        <input id="confirm" name="confirm" type="password" autocomplete="new-password" minlength={10} required data-same-as="#password" />
        <button type="submit">Set password and sign in</button>
      </form>
    </BareLayout>
  );
}

/**
 * A link that does not work: unknown, used, revoked and expired read alike (no oracle of which), or
 * too many tries from this address.
 */
export function InviteClosedPage(props: { throttled?: { minutes: number } }) {
  return (
    <BareLayout title="Invite link">
      <h1>Invite link not valid</h1>
      <div class="alert error" role="alert">
        {props.throttled
          ? `Too many attempts from this address. Try again in ${props.throttled.minutes} minute(s).`
          : "This invite link is not valid: it may have expired, been used already or been revoked. Ask an admin for a new one."}
      </div>
      <p><a href="/admin/login">Go to sign-in</a></p>
    </BareLayout>
  );
}
