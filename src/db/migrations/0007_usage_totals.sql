CREATE TABLE `usage_totals` (
	`grain` text NOT NULL,
	`scope` text NOT NULL,
	`scope_id` text NOT NULL,
	`dim` text NOT NULL,
	`bucket` integer NOT NULL,
	`dim_id` text NOT NULL,
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
CREATE UNIQUE INDEX `usage_totals_key_idx` ON `usage_totals` (`grain`,`scope`,`scope_id`,`dim`,`bucket`,`dim_id`,`outcome`,`error_code`);--> statement-breakpoint
CREATE INDEX `usage_totals_bucket_idx` ON `usage_totals` (`grain`,`bucket`);