-- Reminders to sign (haven_core::reminders, jobs/reminders.rs): when each
-- person was last reminded, and the trust's rules. As postgres/0015.

-- One row per person ever reminded: "staff:<account id>" or
-- "parent:<invitation id>". A round claims a person by moving last_at
-- forward only if the interval has passed, so two rounds at once (two
-- admins, two instances, the weekly run) remind a person once.
CREATE TABLE reminders (
    person  TEXT PRIMARY KEY NOT NULL,
    last_at INTEGER NOT NULL
);

-- The trust's rules; no row means the defaults (every 7 days, no weekly
-- run), so a copy by migrate-data finds the table empty.
CREATE TABLE reminder_settings (
    only_one      INTEGER PRIMARY KEY NOT NULL DEFAULT 1 CHECK (only_one = 1),
    interval_days INTEGER NOT NULL CHECK (interval_days BETWEEN 1 AND 90),
    weekly        INTEGER NOT NULL CHECK (weekly IN (0, 1))
);
