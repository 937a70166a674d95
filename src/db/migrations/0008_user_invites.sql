CREATE TABLE `user_invites` (
	`id` text PRIMARY KEY NOT NULL,
	`token_hash` text NOT NULL,
	`email` text NOT NULL,
	`role` text NOT NULL,
	`invited_by` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`invited_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `user_invites_token_hash_unique` ON `user_invites` (`token_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `user_invites_email_unique` ON `user_invites` (`email`);--> statement-breakpoint
CREATE INDEX `user_invites_expires_at_idx` ON `user_invites` (`expires_at`);