ALTER TABLE "queues" ADD COLUMN "claim_order" text DEFAULT 'FIFO' NOT NULL;--> statement-breakpoint
ALTER TABLE "queues" ADD COLUMN "owner_concurrency" integer;--> statement-breakpoint
ALTER TABLE "queues" ADD COLUMN "fair_cursor" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "jobs_fair_idx" ON "jobs" ("queue","status","owner_id","priority","id");