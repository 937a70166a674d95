CREATE TABLE `connections` (
	`id` text PRIMARY KEY NOT NULL,
	`slug` text NOT NULL,
	`title` text NOT NULL,
	`description` text NOT NULL,
	`transport` text NOT NULL,
	`enabled` integer NOT NULL,
	`url` text,
	`command` text,
	`args` text NOT NULL,
	`cwd` text,
	`isolation` text NOT NULL,
	`max_processes` integer,
	`connect_timeout_ms` integer,
	`call_timeout_ms` integer,
	`token_sealed` text,
	`headers_sealed` text,
	`env_sealed` text,
	`from_config` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `connections_slug_unique` ON `connections` (`slug`);