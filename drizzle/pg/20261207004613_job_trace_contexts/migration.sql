CREATE TABLE "job_trace_contexts" (
	"job_id" integer PRIMARY KEY,
	"traceparent" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "job_trace_contexts" ADD CONSTRAINT "job_trace_contexts_job_id_jobs_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE;