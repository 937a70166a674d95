ALTER TABLE `agents` ADD `record_payloads` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `connections` ADD `record_payloads` integer DEFAULT false NOT NULL;