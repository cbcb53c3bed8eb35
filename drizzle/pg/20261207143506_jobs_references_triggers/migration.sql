-- jobs.queue and jobs.owner_id lost their foreign keys (migration jobs_references_unchecked): PostgreSQL checked each
-- inserted job's queue and owner with a query of its own. The job store key-share-locks the queues and owners that a
-- submission names, in its transaction, and refuses one that is missing (what the checks did); these triggers do what
-- the constraints' actions did: a queue's delete deletes its jobs (ON DELETE CASCADE; their events and inputs go with
-- them, trigger jobs_delete_dependents), a queue's rename renames it in its jobs (ON UPDATE CASCADE), a user's delete
-- leaves their jobs without an owner (ON DELETE SET NULL).
CREATE FUNCTION "jobgraph_delete_queue_jobs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "jobs" WHERE "queue" IN (SELECT "name" FROM "deleted_queues");
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "queues_delete_jobs" AFTER DELETE ON "queues" REFERENCING OLD TABLE AS "deleted_queues"
  FOR EACH STATEMENT EXECUTE FUNCTION "jobgraph_delete_queue_jobs"();
--> statement-breakpoint
CREATE FUNCTION "jobgraph_rename_queue_jobs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "jobs" SET "queue" = NEW."name" WHERE "queue" = OLD."name";
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "queues_rename_jobs" AFTER UPDATE OF "name" ON "queues" FOR EACH ROW
  WHEN (OLD."name" IS DISTINCT FROM NEW."name") EXECUTE FUNCTION "jobgraph_rename_queue_jobs"();
--> statement-breakpoint
CREATE FUNCTION "jobgraph_disown_jobs"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "jobs" SET "owner_id" = NULL WHERE "owner_id" IN (SELECT "id" FROM "deleted_users");
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "users_delete_disown_jobs" AFTER DELETE ON "users" REFERENCING OLD TABLE AS "deleted_users"
  FOR EACH STATEMENT EXECUTE FUNCTION "jobgraph_disown_jobs"();
