-- Hand-written (drizzle-kit knows no triggers). The change feed's version is now bumped at commit: 0002's
-- statement triggers bumped it inside each statement, so a transaction held the feed's one row locked from
-- its first write to a cached table until it committed, and two transactions writing different rows (a
-- last-used flush on one replica, a revoke on another) could each wait on a lock the other held: a deadlock.
-- A deferred constraint trigger runs at commit, after every other lock of its transaction was taken, so the
-- feed's row is the last lock taken and is held only while committing: no cycle. It still runs inside the
-- committing transaction, so a reader that sees the new version sees the committed rows (a revocation
-- still applies on the very next request on every replica).
-- Row triggers fire once per row written; the bump happens once per transaction (the transaction's id is
-- kept in a transaction-local setting), so a large batch costs one update of the feed, not one per row.
-- TRUNCATE has no row triggers: a statement trigger still bumps at once for it (nothing in Switchboard
-- truncates these tables; TRUNCATE locks the whole table anyway).
-- Usage, audit and replica tables have no trigger. The cached tables are not all rarely written: each
-- last-used flush (api_keys, oauth_grants, every few seconds while keys and tokens are used) bumps the
-- version, and every replica then drops its caches once; a check costs one query more after each flush.
CREATE OR REPLACE FUNCTION "switchboard_bump_changes"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('switchboard.changes_bumped_in', true) IS DISTINCT FROM txid_current()::text THEN
		UPDATE "switchboard_changes" SET "version" = "version" + 1 WHERE "id" = 1;
		PERFORM set_config('switchboard.changes_bumped_in', txid_current()::text, true);
	END IF;
	RETURN NULL;
END;
$$;
--> statement-breakpoint
DROP TRIGGER "users_changes" ON "users";
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "users_changes" AFTER INSERT OR UPDATE OR DELETE ON "users" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "users_truncated" AFTER TRUNCATE ON "users" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
DROP TRIGGER "api_keys_changes" ON "api_keys";
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "api_keys_changes" AFTER INSERT OR UPDATE OR DELETE ON "api_keys" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "api_keys_truncated" AFTER TRUNCATE ON "api_keys" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
DROP TRIGGER "oauth_clients_changes" ON "oauth_clients";
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "oauth_clients_changes" AFTER INSERT OR UPDATE OR DELETE ON "oauth_clients" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "oauth_clients_truncated" AFTER TRUNCATE ON "oauth_clients" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
DROP TRIGGER "oauth_grants_changes" ON "oauth_grants";
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "oauth_grants_changes" AFTER INSERT OR UPDATE OR DELETE ON "oauth_grants" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "oauth_grants_truncated" AFTER TRUNCATE ON "oauth_grants" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
DROP TRIGGER "oauth_tokens_changes" ON "oauth_tokens";
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "oauth_tokens_changes" AFTER INSERT OR UPDATE OR DELETE ON "oauth_tokens" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "oauth_tokens_truncated" AFTER TRUNCATE ON "oauth_tokens" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
DROP TRIGGER "agents_changes" ON "agents";
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "agents_changes" AFTER INSERT OR UPDATE OR DELETE ON "agents" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "agents_truncated" AFTER TRUNCATE ON "agents" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
DROP TRIGGER "connections_changes" ON "connections";
--> statement-breakpoint
CREATE CONSTRAINT TRIGGER "connections_changes" AFTER INSERT OR UPDATE OR DELETE ON "connections" DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "switchboard_bump_changes"();
--> statement-breakpoint
CREATE TRIGGER "connections_truncated" AFTER TRUNCATE ON "connections" FOR EACH STATEMENT EXECUTE FUNCTION "switchboard_bump_changes"();
