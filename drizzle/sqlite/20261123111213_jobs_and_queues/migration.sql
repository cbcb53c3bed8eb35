CREATE TABLE `job_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT,
	`job_id` integer NOT NULL,
	`type` text NOT NULL,
	`payload` text,
	`at` integer NOT NULL,
	CONSTRAINT `fk_job_events_job_id_jobs_id_fk` FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON DELETE CASCADE
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT,
	`kind` text NOT NULL,
	`status` text NOT NULL,
	`queue` text NOT NULL,
	`owner_id` integer,
	`input` text NOT NULL,
	`result` text,
	`error` text,
	`progress` real DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`timeout_ms` integer NOT NULL,
	`run_at` integer NOT NULL,
	`lease_token` text,
	`lease_expires_at` integer,
	`claimed_by` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	CONSTRAINT `fk_jobs_queue_queues_name_fk` FOREIGN KEY (`queue`) REFERENCES `queues`(`name`) ON UPDATE CASCADE ON DELETE CASCADE,
	CONSTRAINT `fk_jobs_owner_id_users_id_fk` FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON DELETE SET NULL
);
--> statement-breakpoint
CREATE TABLE `queues` (
	`id` integer PRIMARY KEY AUTOINCREMENT,
	`name` text NOT NULL UNIQUE,
	`concurrency` integer NOT NULL,
	`max_length` integer NOT NULL,
	`paused` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `job_events_job_idx` ON `job_events` (`job_id`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_claim_idx` ON `jobs` (`queue`,`status`,`priority`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_owner_idx` ON `jobs` (`owner_id`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_status_idx` ON `jobs` (`status`,`id`);