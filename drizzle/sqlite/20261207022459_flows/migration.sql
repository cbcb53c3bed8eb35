CREATE TABLE `flow_nodes` (
	`job_id` integer PRIMARY KEY,
	`flow_id` integer NOT NULL,
	`key` text NOT NULL,
	`on_parent_failure` text NOT NULL,
	`waiting_parents` integer NOT NULL,
	CONSTRAINT `fk_flow_nodes_job_id_jobs_id_fk` FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON DELETE CASCADE,
	CONSTRAINT `fk_flow_nodes_flow_id_flows_id_fk` FOREIGN KEY (`flow_id`) REFERENCES `flows`(`id`) ON DELETE CASCADE
);
--> statement-breakpoint
CREATE TABLE `flows` (
	`id` integer PRIMARY KEY AUTOINCREMENT,
	`name` text,
	`owner_id` integer,
	`status` text NOT NULL,
	`total` integer NOT NULL,
	`remaining` integer NOT NULL,
	`not_succeeded` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`finished_at` integer,
	CONSTRAINT `fk_flows_owner_id_users_id_fk` FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON DELETE SET NULL
);
--> statement-breakpoint
CREATE TABLE `job_dependencies` (
	`child_id` integer NOT NULL,
	`parent_id` integer NOT NULL,
	CONSTRAINT `job_dependencies_pk` PRIMARY KEY(`child_id`, `parent_id`),
	CONSTRAINT `fk_job_dependencies_child_id_jobs_id_fk` FOREIGN KEY (`child_id`) REFERENCES `jobs`(`id`) ON DELETE CASCADE,
	CONSTRAINT `fk_job_dependencies_parent_id_jobs_id_fk` FOREIGN KEY (`parent_id`) REFERENCES `jobs`(`id`) ON DELETE CASCADE
);
--> statement-breakpoint
CREATE INDEX `flow_nodes_flow_idx` ON `flow_nodes` (`flow_id`,`job_id`);--> statement-breakpoint
CREATE INDEX `flows_owner_idx` ON `flows` (`owner_id`,`id`);--> statement-breakpoint
CREATE INDEX `job_dependencies_parent_idx` ON `job_dependencies` (`parent_id`,`child_id`);