-- job_events and job_inputs lost their foreign keys to jobs (migration job_dependents_unchecked): PostgreSQL checked
-- each inserted row with a query of its own, a third of an insert's CPU. The job store writes them only for jobs it
-- inserts or locks in the same statement. What ON DELETE CASCADE did, this trigger does once per statement: every
-- delete of jobs (one, many, or a deleted queue's, cascaded) deletes their events and inputs in its transaction.
CREATE FUNCTION "jobgraph_delete_job_dependents"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "job_events" WHERE "job_id" IN (SELECT "id" FROM "deleted_jobs");
  DELETE FROM "job_inputs" WHERE "job_id" IN (SELECT "id" FROM "deleted_jobs");
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "jobs_delete_dependents" AFTER DELETE ON "jobs" REFERENCING OLD TABLE AS "deleted_jobs"
  FOR EACH STATEMENT EXECUTE FUNCTION "jobgraph_delete_job_dependents"();
