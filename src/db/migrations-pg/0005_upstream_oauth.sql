CREATE TABLE "upstream_oauth_flows" (
	"state_hash" text PRIMARY KEY NOT NULL,
	"connection_id" text NOT NULL,
	"subject" text NOT NULL,
	"user_id" text NOT NULL,
	"code_verifier_sealed" text NOT NULL,
	"binding_hash" text NOT NULL,
	"return_to" text NOT NULL,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "upstream_oauth_links" (
	"connection_id" text NOT NULL,
	"subject" text NOT NULL,
	"user_id" text,
	"access_token_sealed" text NOT NULL,
	"refresh_token_sealed" text,
	"refresh_token_hash" text,
	"expires_at" bigint,
	"scope" text,
	"account" text,
	"state" text NOT NULL,
	"last_error" text,
	"connected_by" text,
	"connected_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "upstream_oauth_links_connection_id_subject_pk" PRIMARY KEY("connection_id","subject")
);
--> statement-breakpoint
CREATE TABLE "upstream_oauth_registrations" (
	"connection_id" text PRIMARY KEY NOT NULL,
	"issuer" text NOT NULL,
	"resource" text NOT NULL,
	"authorization_endpoint" text NOT NULL,
	"token_endpoint" text NOT NULL,
	"revocation_endpoint" text,
	"userinfo_endpoint" text,
	"method" text NOT NULL,
	"client_id" text NOT NULL,
	"client_secret_sealed" text,
	"token_endpoint_auth_method" text NOT NULL,
	"scopes" text,
	"redirect_uri" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "auth" text DEFAULT 'static' NOT NULL;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "oauth_mode" text DEFAULT 'shared' NOT NULL;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "oauth_client_id" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "oauth_client_secret_sealed" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "oauth_scopes" text;--> statement-breakpoint
ALTER TABLE "upstream_oauth_flows" ADD CONSTRAINT "upstream_oauth_flows_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "upstream_oauth_flows" ADD CONSTRAINT "upstream_oauth_flows_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "upstream_oauth_links" ADD CONSTRAINT "upstream_oauth_links_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "upstream_oauth_links" ADD CONSTRAINT "upstream_oauth_links_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "upstream_oauth_links" ADD CONSTRAINT "upstream_oauth_links_connected_by_users_id_fk" FOREIGN KEY ("connected_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "upstream_oauth_registrations" ADD CONSTRAINT "upstream_oauth_registrations_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "upstream_oauth_flows_expires_at_idx" ON "upstream_oauth_flows" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "upstream_oauth_links_user_id_idx" ON "upstream_oauth_links" USING btree ("user_id");--> statement-breakpoint
-- Hand-written (drizzle-kit knows no triggers). The gateway reads an OAuth connection's registration and
-- links through caches on every replica (a token refreshed, a link disconnected or marked as needing
-- re-authorization on one replica must apply on the next call on every other), so these two tables join
-- the change feed with the same deferred constraint triggers as 0003_change_feed_at_commit (bumped once per
-- transaction, at commit). Flows are not cached (each is taken once, straight from the table): no trigger.
CREATE CONSTRAINT TRIGGER "upstream_oauth_registrations_changes" AFTER INSERT OR UPDATE OR DELETE ON "upstream_oauth_registrations" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "upstream_oauth_registrations_truncated" AFTER TRUNCATE ON "upstream_oauth_registrations" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "upstream_oauth_links_changes" AFTER INSERT OR UPDATE OR DELETE ON "upstream_oauth_links" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "upstream_oauth_links_truncated" AFTER TRUNCATE ON "upstream_oauth_links" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
