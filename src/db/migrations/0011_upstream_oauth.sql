CREATE TABLE `upstream_oauth_flows` (
	`state_hash` text PRIMARY KEY NOT NULL,
	`connection_id` text NOT NULL,
	`subject` text NOT NULL,
	`user_id` text NOT NULL,
	`code_verifier_sealed` text NOT NULL,
	`binding_hash` text NOT NULL,
	`return_to` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`connection_id`) REFERENCES `connections`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `upstream_oauth_flows_expires_at_idx` ON `upstream_oauth_flows` (`expires_at`);--> statement-breakpoint
CREATE TABLE `upstream_oauth_links` (
	`connection_id` text NOT NULL,
	`subject` text NOT NULL,
	`user_id` text,
	`access_token_sealed` text NOT NULL,
	`refresh_token_sealed` text,
	`refresh_token_hash` text,
	`expires_at` integer,
	`scope` text,
	`account` text,
	`state` text NOT NULL,
	`last_error` text,
	`connected_by` text,
	`connected_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`connection_id`, `subject`),
	FOREIGN KEY (`connection_id`) REFERENCES `connections`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`connected_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `upstream_oauth_links_user_id_idx` ON `upstream_oauth_links` (`user_id`);--> statement-breakpoint
CREATE TABLE `upstream_oauth_registrations` (
	`connection_id` text PRIMARY KEY NOT NULL,
	`issuer` text NOT NULL,
	`resource` text NOT NULL,
	`authorization_endpoint` text NOT NULL,
	`token_endpoint` text NOT NULL,
	`revocation_endpoint` text,
	`userinfo_endpoint` text,
	`method` text NOT NULL,
	`client_id` text NOT NULL,
	`client_secret_sealed` text,
	`token_endpoint_auth_method` text NOT NULL,
	`scopes` text,
	`redirect_uri` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`connection_id`) REFERENCES `connections`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `connections` ADD `auth` text DEFAULT 'static' NOT NULL;--> statement-breakpoint
ALTER TABLE `connections` ADD `oauth_mode` text DEFAULT 'shared' NOT NULL;--> statement-breakpoint
ALTER TABLE `connections` ADD `oauth_client_id` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `oauth_client_secret_sealed` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `oauth_scopes` text;