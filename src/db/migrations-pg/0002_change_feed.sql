CREATE TABLE "switchboard_changes" (
	"id" integer PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL
);
--> statement-breakpoint
-- Hand-written below (drizzle-kit knows no triggers). The feed's one row; its version only goes up.
INSERT INTO "switchboard_changes" ("id", "version") VALUES (1, 0);
--> statement-breakpoint
-- Bumped by each statement that writes a cached table, inside that statement's transaction: a reader
-- that sees the new version sees the committed rows. Usage, audit and replica tables have no trigger
-- (their constant writes would drop every cache all the time); the last-used flushes of api_keys and
-- oauth_grants do bump it. 0003_change_feed_at_commit moves the bump to commit (these held the row's
-- lock from the first write until commit, so two transactions could deadlock on it).
CREATE FUNCTION "switchboard_bump_changes"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE "switchboard_changes" SET "version" = "version" + 1 WHERE "id" = 1;
	RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "users_changes" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "users" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "api_keys_changes" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "api_keys" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "oauth_clients_changes" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "oauth_clients" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "oauth_grants_changes" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "oauth_grants" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "oauth_tokens_changes" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "oauth_tokens" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "agents_changes" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "agents" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "connections_changes" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "connections" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
