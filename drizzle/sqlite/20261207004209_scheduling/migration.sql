CREATE TABLE `idempotency_keys` (
	`owner_id` integer NOT NULL,
	`key` text NOT NULL,
	`job_id` integer NOT NULL,
	`expires_at` integer NOT NULL,
	CONSTRAINT `idempotency_keys_pk` PRIMARY KEY(`owner_id`, `key`)
);
--> statement-breakpoint
CREATE TABLE `queue_starts` (
	`id` integer PRIMARY KEY AUTOINCREMENT,
	`queue` text NOT NULL,
	`at` integer NOT NULL,
	CONSTRAINT `fk_queue_starts_queue_queues_name_fk` FOREIGN KEY (`queue`) REFERENCES `queues`(`name`) ON UPDATE CASCADE ON DELETE CASCADE
);
--> statement-breakpoint
CREATE TABLE `schedules` (
	`name` text PRIMARY KEY,
	`cron` text NOT NULL,
	`timezone` text NOT NULL,
	`job` text NOT NULL,
	`request` text NOT NULL,
	`queue` text NOT NULL,
	`paused` integer DEFAULT false NOT NULL,
	`overlap` text NOT NULL,
	`next_run_at` integer,
	`last_run_at` integer,
	`owner_id` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	CONSTRAINT `fk_schedules_queue_queues_name_fk` FOREIGN KEY (`queue`) REFERENCES `queues`(`name`) ON UPDATE CASCADE ON DELETE CASCADE,
	CONSTRAINT `fk_schedules_owner_id_users_id_fk` FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON DELETE SET NULL
);
--> statement-breakpoint
ALTER TABLE `jobs` ADD `idempotency_key` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `schedule` text;--> statement-breakpoint
ALTER TABLE `queues` ADD `rate_limit_jobs` integer;--> statement-breakpoint
ALTER TABLE `queues` ADD `rate_limit_per_seconds` integer;--> statement-breakpoint
ALTER TABLE `queues` ADD `retention_succeeded_seconds` integer;--> statement-breakpoint
ALTER TABLE `queues` ADD `retention_failed_seconds` integer;--> statement-breakpoint
ALTER TABLE `queues` ADD `retention_cancelled_seconds` integer;--> statement-breakpoint
CREATE INDEX `idempotency_keys_expires_idx` ON `idempotency_keys` (`expires_at`);--> statement-breakpoint
CREATE INDEX `jobs_finished_idx` ON `jobs` (`status`,`finished_at`);--> statement-breakpoint
CREATE INDEX `jobs_schedule_idx` ON `jobs` (`schedule`,`id`);--> statement-breakpoint
CREATE INDEX `queue_starts_queue_at_idx` ON `queue_starts` (`queue`,`at`);