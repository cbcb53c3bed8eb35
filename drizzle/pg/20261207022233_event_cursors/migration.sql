-- Event cursors (docs/events.md). Each job_events row records the transaction that wrote it: identity ids are taken
-- in insert order, not commit order, so a reader that followed ids alone could pass an id whose transaction had not
-- yet committed and miss it for good. Readers order by (tx, id) and read only rows whose transaction is older than
-- every transaction still running (pg_snapshot_xmin): that set only grows at its end.
ALTER TABLE "job_events" ADD COLUMN "tx" xid8 NOT NULL DEFAULT pg_current_xact_id();
--> statement-breakpoint
CREATE INDEX "job_events_tx_idx" ON "job_events" ("tx", "id");
--> statement-breakpoint
-- Every instance LISTENs on jobgraph_events and reads past its last cursor. NOTIFY is transactional: it is sent at
-- commit and only then, whichever instance commits, even one killed a moment later.
CREATE FUNCTION "jobgraph_notify_events"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('jobgraph_events', '');
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "job_events_notify" AFTER INSERT ON "job_events" FOR EACH STATEMENT EXECUTE FUNCTION "jobgraph_notify_events"();
