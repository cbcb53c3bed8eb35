CREATE TABLE `relay_cache` (
	`url` text PRIMARY KEY,
	`status` integer NOT NULL,
	`headers` text NOT NULL,
	`body` text NOT NULL,
	`policy` text NOT NULL,
	`fetched_at` integer NOT NULL,
	`last_used_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `relay_cache_lru_idx` ON `relay_cache` (`last_used_at`);