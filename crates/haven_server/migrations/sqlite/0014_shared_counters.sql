-- What several server instances on one database must share rather than keep
-- in memory (issue #19): failed guesses, and which instance ran a job.

-- One failed (or not yet judged) sign-in, code or link attempt, by key
-- ("account:<email>", "address:<ip or /64>", "lookup:<ip or /64>"): see
-- limiter.rs. Rows older than the longest window are purged hourly.
CREATE TABLE failed_attempts (
    id  INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    at  INTEGER NOT NULL
);
CREATE INDEX failed_attempts_by_key ON failed_attempts (key, at);
CREATE INDEX failed_attempts_by_time ON failed_attempts (at);

-- One row per run of a scheduled job per hour: the instance that inserts it
-- runs the job, the others see the row and skip (jobs.rs).
CREATE TABLE job_runs (
    job        TEXT NOT NULL,
    -- Hours since the Unix epoch, by the claiming server's clock.
    slot       INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    PRIMARY KEY (job, slot)
);
