CREATE TABLE `job_trace_contexts` (
	`job_id` integer PRIMARY KEY,
	`traceparent` text NOT NULL,
	CONSTRAINT `fk_job_trace_contexts_job_id_jobs_id_fk` FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON DELETE CASCADE
);
