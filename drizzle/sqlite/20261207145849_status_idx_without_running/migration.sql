-- drizzle-kit (sqlite) diffs neither an index's columns nor its WHERE: this migration is written out (generated with
-- --custom; the snapshot beside it is the schema's). jobs_status_idx holds every status but RUNNING, so a claim and
-- a settle each move a job in it once instead of twice; jobs_running_idx leads with status, so RUNNING jobs alone
-- are a search (docs/benchmarks.md, "Fifth pass"). The condition is ORs: SQLite proves it from `status = 'X'`.
DROP INDEX `jobs_status_idx`;--> statement-breakpoint
CREATE INDEX `jobs_status_idx` ON `jobs` (`status`,`id`) WHERE status = 'QUEUED' OR status = 'SUCCEEDED' OR status = 'FAILED' OR status = 'CANCELLED' OR status = 'WAITING';--> statement-breakpoint
DROP INDEX `jobs_running_idx`;--> statement-breakpoint
CREATE INDEX `jobs_running_idx` ON `jobs` (`status`,`queue`,`owner_id`,`claimed_by`) WHERE status = 'RUNNING';
