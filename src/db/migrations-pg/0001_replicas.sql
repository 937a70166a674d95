CREATE TABLE "mcp_sessions" (
	"session_id" text PRIMARY KEY NOT NULL,
	"replica_id" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "replica_connections" (
	"replica_id" text NOT NULL,
	"connection_id" text NOT NULL,
	"state" text NOT NULL,
	"error" text,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "replica_connections_replica_id_connection_id_pk" PRIMARY KEY("replica_id","connection_id")
);
--> statement-breakpoint
CREATE TABLE "replicas" (
	"id" text PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"started_at" bigint NOT NULL,
	"heartbeat_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "mcp_sessions_replica_id_idx" ON "mcp_sessions" USING btree ("replica_id");--> statement-breakpoint
CREATE INDEX "replica_connections_connection_id_idx" ON "replica_connections" USING btree ("connection_id");