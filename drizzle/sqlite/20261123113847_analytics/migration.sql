CREATE TABLE `analytics_datasets` (
	`id` integer PRIMARY KEY AUTOINCREMENT,
	`source` text NOT NULL,
	`sha256` text NOT NULL,
	`rows_read` integer NOT NULL,
	`rows_kept` integer NOT NULL,
	`rows_skipped` integer NOT NULL,
	`ingest_ms` real NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL
);
--> statement-breakpoint
CREATE TABLE `analytics_rows` (
	`id` integer PRIMARY KEY,
	`question` text NOT NULL,
	`state` text NOT NULL,
	`category` text NOT NULL,
	`segment` text NOT NULL,
	`year_start` integer,
	`year_end` integer,
	`value` real NOT NULL
);
