ALTER TABLE "job_events" DROP CONSTRAINT "job_events_job_id_jobs_id_fkey";--> statement-breakpoint
ALTER TABLE "job_inputs" DROP CONSTRAINT "job_inputs_job_id_jobs_id_fkey";