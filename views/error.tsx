// How an error looks in the admin: a fragment for htmx to swap in; a whole page for a browser, inside
// the admin's layout (its nav, who is signed in) for a signed-in user, bare before sign-in.
/** @jsxImportSource hono/jsx */
import type { User } from "../src/domain/access/users.ts";
import type { AppError } from "../src/errors.ts";
import { AdminLayout, BareLayout } from "./layout.tsx";

export function ErrorFragment(props: { error: AppError }) {
  return (
    <div class="alert error" role="alert" data-code={props.error.code}>
      {props.error.message}
    </div>
  );
}

/** The page's heading: what kind of refusal this is, in the reader's words. */
function headingOf(error: AppError): string {
  if (error.status === 403) return "You don't have access";
  if (error.status === 404) return "Not found";
  return "Something is wrong";
}

/** One sentence on why a signed-in user was refused, and who can change it. */
function ForbiddenReason(props: { user: User }) {
  return props.user.role === "member" ? (
    <p>
      This page or action is for admins, and you are signed in as a member. If you need it, ask an admin of this
      Switchboard to do it for you or to make you an admin.
    </p>
  ) : (
    <p>Your account may not open this page or do this. If you need it, ask another admin of this Switchboard.</p>
  );
}

/** An error as a whole page: inside the admin's layout when `user` is signed in, the bare layout otherwise. */
export function ErrorPage(props: { error: AppError; user?: User }) {
  const { error, user } = props;
  if (!user) {
    return (
      <BareLayout title="Error">
        <h1>{headingOf(error)}</h1>
        <ErrorFragment error={error} />
        <p><a href="/admin">Back to the admin</a></p>
      </BareLayout>
    );
  }
  return (
    <AdminLayout title={headingOf(error)} user={user} active="">
      <div class="panel error-page" data-code={error.code} data-status={error.status}>
        <ErrorFragment error={error} />
        {error.status === 403 && <ForbiddenReason user={user} />}
        <p><a href="/admin">Back to the dashboard</a></p>
      </div>
    </AdminLayout>
  );
}
