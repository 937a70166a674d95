CREATE TABLE `sign_in_attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`counter` text NOT NULL,
	`key` text NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `sign_in_attempts_counter_key_at_idx` ON `sign_in_attempts` (`counter`,`key`,`at`);--> statement-breakpoint
CREATE INDEX `sign_in_attempts_at_idx` ON `sign_in_attempts` (`at`);