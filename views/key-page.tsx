// One API key's page: what it is (owner, prefix, grants by name, dates), its actions (edit, rotate,
// revoke) and its activity; the section htmx swaps after an action is the same unit.
/** @jsxImportSource hono/jsx */
import type { Child } from "hono/jsx";
import type { User } from "../src/domain/access/users.ts";
import { RANGE_NAMES } from "../src/domain/monitoring/types.ts";
import { Alert, type Message } from "./alert.tsx";
import { EXPIRY_CHOICES, type KeyRow } from "./api-keys.tsx";
import { isoMinute } from "./format.ts";
import { builderCanShow, GrantBuilder, GrantList, type GrantTargets } from "./key-grants.tsx";
import { AdminLayout } from "./layout.tsx";
import { ActivityDetails, filterQuery, type ActivityView } from "./monitoring.tsx";
import { TokenDialog, type IssuedToken } from "./token-dialog.tsx";

export type KeyPageProps = {
  viewer: User;
  apiKey: KeyRow;
  targets: GrantTargets;
  grantableTools: string[];
  pickerFailed?: boolean;
  /** The key's activity over `range`, or null when it could not be read. */
  activity: ActivityView | null;
  range: string;
  issued?: IssuedToken;
  message?: Message;
  /** A refused edit: the form open again with what was typed and why. */
  edit?: { message: Message; name: string; expiry: string; raw?: string; permissions?: Record<string, string[]> };
};

function Facts(props: KeyPageProps): Child {
  const k = props.apiKey;
  return (
    <div class="panel">
      <dl class="kv key-facts">
        <dt>Owner</dt><dd>{k.owner.email}</dd>
        <dt>Token</dt><dd><code>{k.prefix}…</code></dd>
        <dt>Grants</dt><dd><GrantList permissions={k.permissions} targets={props.targets} /></dd>
        <dt>Created</dt><dd>{isoMinute(k.created_at)}</dd>
        <dt>Expires</dt><dd>{k.expires_at ? isoMinute(k.expires_at) : "never"}</dd>
        <dt>Last used</dt><dd>{k.last_used_at ? isoMinute(k.last_used_at) : "never"}</dd>
        {k.previous_token_expires_at && <><dt>Old token</dt><dd>works until {isoMinute(k.previous_token_expires_at)} (rotated with a grace period)</dd></>}
      </dl>
    </div>
  );
}

function Actions(props: KeyPageProps): Child {
  const k = props.apiKey;
  const path = `/admin/keys/${k.id}`;
  return (
    <div class="panel key-actions">
      <form id="rotate-key" class="inline" method="post" action={`${path}/rotate`} hx-post={`${path}/rotate`} hx-target="#key-page" hx-swap="outerHTML" hx-confirm={`Rotate "${k.name}"? A new token replaces the current one.`} data-busy="Rotating…">
        <input type="hidden" name="from" value="page" />
        <label class="inline-label" for="rotate-grace">After a rotation, the old token</label>
        <select id="rotate-grace" name="grace_period">
          <option value="">stops now</option>
          <option value="1h">works 1 hour more</option>
          <option value="24h">works 1 day more</option>
          <option value="7d">works 7 days more</option>
        </select>
        <button class="secondary" type="submit">Rotate</button>
      </form>
      <form id="revoke-key" class="inline" method="post" action={`${path}/delete`} hx-post={`${path}/delete`} hx-target="#key-page" hx-swap="outerHTML" hx-confirm={`Revoke "${k.name}"? Anything using it stops working at once.`} data-busy="Revoking…">
        <input type="hidden" name="from" value="page" />
        <button class="danger" type="submit">Revoke</button>
      </form>
    </div>
  );
}

/** Name, grants (the create form's builder) and expiry, saved with API_KEY_UPDATE. */
function EditForm(props: KeyPageProps): Child {
  const k = props.apiKey;
  const isAdmin = props.viewer.role === "admin";
  const edit = props.edit;
  const shown = edit?.permissions ?? k.permissions;
  // Grants the boxes cannot show (a tool no longer offered, any connection) are edited as JSON, never dropped.
  const asJson = edit?.raw ?? (builderCanShow(k.permissions, { isAdmin, grantableTools: props.grantableTools, targets: props.targets }) ? undefined : JSON.stringify(k.permissions, null, 2));
  const expiry = edit?.expiry ?? "keep";
  return (
    <details class="panel edit-key" id="edit-key" open={edit ? true : undefined}>
      <summary><h2>Edit</h2></summary>
      <form method="post" action={`/admin/keys/${k.id}`} hx-post={`/admin/keys/${k.id}`} hx-target="#key-page" hx-swap="outerHTML" data-busy="Saving…">
        <div class="row">
          <div><label for="edit-name">Name</label><input id="edit-name" name="name" type="text" required maxlength={100} value={edit?.name ?? k.name} /></div>
          <div>
            <label for="edit-expiry">Expires</label>
            <select id="edit-expiry" name="expiry">
              <option value="keep" selected={expiry === "keep"}>keep ({k.expires_at ? isoMinute(k.expires_at) : "never"})</option>
              <option value="never" selected={expiry === "never"}>never</option>
              {EXPIRY_CHOICES.map(([value, label]) => <option value={value} selected={expiry === value}>{label} from now</option>)}
            </select>
          </div>
        </div>
        {asJson !== undefined && !edit && <p class="muted small">Some of this key's grants cannot be shown as choices: they are in the raw JSON below, which is what will be saved.</p>}
        <GrantBuilder isAdmin={isAdmin} grantableTools={props.grantableTools} targets={props.targets} pickerFailed={props.pickerFailed} chosen={asJson === undefined || edit ? shown : {}} raw={asJson} />
        <div id="edit-key-message" aria-live="polite"><Alert message={edit?.message} reveal={true} /></div>
        <div><button type="submit">Save changes</button></div>
      </form>
    </details>
  );
}

/** The activity of the key over the chosen range: flags first, then use over time, tools, clients and addresses. */
function Activity(props: { id: string; activity: ActivityView | null; range: string }): Child {
  const a = props.activity;
  return (
    <section class="key-activity" id="activity" aria-labelledby="activity-title">
      <h2 id="activity-title">Activity</h2>
      <p class="row">
        {RANGE_NAMES.map((r) => (r === props.range ? <strong>Last {r}</strong> : <a href={`/admin/keys/${props.id}?range=${r}#activity`}>Last {r}</a>))}
        <a href={`/admin/monitoring?${filterQuery({ credential_id: props.id, range: props.range })}`}>Its calls in Monitoring</a>
      </p>
      {a === null ? (
        <p class="muted">The activity could not be read just now.</p>
      ) : (
        <ActivityDetails activity={a} level={3} />
      )}
    </section>
  );
}

/** Everything below the title: the unit htmx replaces after an action on the key. */
export function KeySection(props: KeyPageProps) {
  return (
    <section id="key-page">
      {props.issued && <TokenDialog issued={props.issued} />}
      <p><a href="/admin/keys">← API keys</a></p>
      <div id="key-message" aria-live="polite"><Alert message={props.message} reveal={true} /></div>
      <Facts {...props} />
      <Actions {...props} />
      <EditForm {...props} />
      <Activity id={props.apiKey.id} activity={props.activity} range={props.range} />
    </section>
  );
}

export function KeyPage(props: KeyPageProps) {
  return (
    <AdminLayout title={props.apiKey.name} user={props.viewer} active="keys">
      <KeySection {...props} />
    </AdminLayout>
  );
}
