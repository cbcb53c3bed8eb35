ALTER TABLE "jobs" DROP CONSTRAINT "jobs_queue_queues_name_fkey";--> statement-breakpoint
ALTER TABLE "jobs" DROP CONSTRAINT "jobs_owner_id_users_id_fkey";