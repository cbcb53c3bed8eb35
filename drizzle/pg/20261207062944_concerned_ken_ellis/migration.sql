DROP INDEX "jobs_claim_idx";--> statement-breakpoint
CREATE INDEX "jobs_claim_idx" ON "jobs" ("queue","status","priority","id") WHERE status = 'QUEUED';--> statement-breakpoint
DROP INDEX "jobs_finished_idx";--> statement-breakpoint
CREATE INDEX "jobs_finished_idx" ON "jobs" ("status","finished_at") WHERE finished_at IS NOT NULL;--> statement-breakpoint
DROP INDEX "jobs_schedule_idx";--> statement-breakpoint
CREATE INDEX "jobs_schedule_idx" ON "jobs" ("schedule","id") WHERE schedule IS NOT NULL;--> statement-breakpoint
DROP INDEX "jobs_fair_idx";--> statement-breakpoint
CREATE INDEX "jobs_fair_idx" ON "jobs" ("queue","status","owner_id","priority","id") WHERE status = 'QUEUED';--> statement-breakpoint
CREATE INDEX "jobs_running_idx" ON "jobs" ("queue","status","owner_id","claimed_by") WHERE status = 'RUNNING';