CREATE TABLE `audit_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`face` text NOT NULL,
	`user_id` text,
	`credential_kind` text NOT NULL,
	`credential_id` text,
	`action` text NOT NULL,
	`target_id` text,
	`address` text,
	`change` text,
	`outcome` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_events_at_idx` ON `audit_events` (`at`);--> statement-breakpoint
CREATE INDEX `audit_events_user_id_at_idx` ON `audit_events` (`user_id`,`at`);--> statement-breakpoint
CREATE INDEX `audit_events_credential_id_at_idx` ON `audit_events` (`credential_id`,`at`);--> statement-breakpoint
CREATE INDEX `audit_events_action_at_idx` ON `audit_events` (`action`,`at`);--> statement-breakpoint
CREATE INDEX `audit_events_target_id_at_idx` ON `audit_events` (`target_id`,`at`);--> statement-breakpoint
CREATE TABLE `usage_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`duration_ms` integer NOT NULL,
	`face` text NOT NULL,
	`target_kind` text NOT NULL,
	`target_id` text,
	`target_slug` text,
	`method` text NOT NULL,
	`name` text,
	`upstream_name` text,
	`connection_id` text,
	`outcome` text NOT NULL,
	`error_code` text,
	`error_message` text,
	`user_id` text,
	`credential_kind` text NOT NULL,
	`credential_id` text,
	`session_id` text,
	`client_name` text,
	`client_version` text,
	`address` text,
	`request_bytes` integer NOT NULL,
	`response_bytes` integer NOT NULL,
	`payload` text
);
--> statement-breakpoint
CREATE INDEX `usage_events_at_idx` ON `usage_events` (`at`);--> statement-breakpoint
CREATE INDEX `usage_events_target_id_at_idx` ON `usage_events` (`target_id`,`at`);--> statement-breakpoint
CREATE INDEX `usage_events_connection_id_at_idx` ON `usage_events` (`connection_id`,`at`);--> statement-breakpoint
CREATE INDEX `usage_events_credential_id_at_idx` ON `usage_events` (`credential_id`,`at`);--> statement-breakpoint
CREATE INDEX `usage_events_user_id_at_idx` ON `usage_events` (`user_id`,`at`);--> statement-breakpoint
CREATE INDEX `usage_events_name_at_idx` ON `usage_events` (`name`,`at`);--> statement-breakpoint
CREATE INDEX `usage_events_outcome_at_idx` ON `usage_events` (`outcome`,`at`);--> statement-breakpoint
CREATE TABLE `usage_rollups` (
	`grain` text NOT NULL,
	`bucket` integer NOT NULL,
	`face` text NOT NULL,
	`target_kind` text NOT NULL,
	`target_id` text NOT NULL,
	`connection_id` text NOT NULL,
	`name` text NOT NULL,
	`credential_id` text NOT NULL,
	`user_id` text NOT NULL,
	`outcome` text NOT NULL,
	`error_code` text NOT NULL,
	`calls` integer NOT NULL,
	`errors` integer NOT NULL,
	`duration_sum` integer NOT NULL,
	`h00` integer DEFAULT 0 NOT NULL,
	`h01` integer DEFAULT 0 NOT NULL,
	`h02` integer DEFAULT 0 NOT NULL,
	`h03` integer DEFAULT 0 NOT NULL,
	`h04` integer DEFAULT 0 NOT NULL,
	`h05` integer DEFAULT 0 NOT NULL,
	`h06` integer DEFAULT 0 NOT NULL,
	`h07` integer DEFAULT 0 NOT NULL,
	`h08` integer DEFAULT 0 NOT NULL,
	`h09` integer DEFAULT 0 NOT NULL,
	`h10` integer DEFAULT 0 NOT NULL,
	`h11` integer DEFAULT 0 NOT NULL,
	`h12` integer DEFAULT 0 NOT NULL,
	`h13` integer DEFAULT 0 NOT NULL,
	`h14` integer DEFAULT 0 NOT NULL,
	`h15` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `usage_rollups_key_idx` ON `usage_rollups` (`grain`,`bucket`,`target_id`,`connection_id`,`name`,`credential_id`,`user_id`,`outcome`,`error_code`,`face`,`target_kind`);--> statement-breakpoint
CREATE INDEX `usage_rollups_target_idx` ON `usage_rollups` (`grain`,`target_id`,`bucket`);--> statement-breakpoint
CREATE INDEX `usage_rollups_connection_idx` ON `usage_rollups` (`grain`,`connection_id`,`bucket`);--> statement-breakpoint
CREATE INDEX `usage_rollups_credential_idx` ON `usage_rollups` (`grain`,`credential_id`,`bucket`);--> statement-breakpoint
CREATE INDEX `usage_rollups_user_idx` ON `usage_rollups` (`grain`,`user_id`,`bucket`);