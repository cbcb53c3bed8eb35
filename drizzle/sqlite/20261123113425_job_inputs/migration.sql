CREATE TABLE `job_inputs` (
	`job_id` integer PRIMARY KEY,
	`input` text NOT NULL,
	CONSTRAINT `fk_job_inputs_job_id_jobs_id_fk` FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON DELETE CASCADE
);
--> statement-breakpoint
-- Hand-added before shipping: keep the inputs of existing jobs.
INSERT INTO `job_inputs` (`job_id`, `input`) SELECT `id`, `input` FROM `jobs`;
--> statement-breakpoint
ALTER TABLE `jobs` DROP COLUMN `input`;