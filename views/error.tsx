// How an error looks in the admin: a whole page for a browser, a fragment for htmx to swap in.
/** @jsxImportSource hono/jsx */
import type { AppError } from "../src/errors.ts";
import { BareLayout } from "./layout.tsx";

export function ErrorFragment(props: { error: AppError }) {
  return (
    <div class="alert error" role="alert" data-code={props.error.code}>
      {props.error.message}
    </div>
  );
}

export function ErrorPage(props: { error: AppError }) {
  return (
    <BareLayout title="Error">
      <h1>{props.error.status === 404 ? "Not found" : "Something is wrong"}</h1>
      <ErrorFragment error={props.error} />
      <p><a href="/admin">Back to the admin</a></p>
    </BareLayout>
  );
}
