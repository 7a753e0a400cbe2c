-- The reception desk ([6/8]): visits, their ends, and each academy's
-- reception rules. A visit is append-only like an agreement: signing in is a
-- row in `visits`, signing out a row in `visit_ends` pointing at it, so two
-- reception desks never overwrite each other. Visits are not pulled (a
-- reception device asks for its academy's roll call instead), so they write
-- no `changes` rows. Rows are deleted only by the retention purge
-- (visits::purge), once a visit ended longer ago than its academy keeps them.

CREATE TABLE visits (
    id                   TEXT PRIMARY KEY NOT NULL,
    academy_id           TEXT NOT NULL REFERENCES academies (id),
    device_id            TEXT NOT NULL,
    mutation_id          INTEGER NOT NULL,
    visitor_name         TEXT NOT NULL,
    organisation         TEXT NOT NULL,
    -- VisitorType::wire_name.
    visitor_type         TEXT NOT NULL CHECK (visitor_type IN ('visitor', 'contractor', 'supply_teacher',
                                                               'trainee_teacher', 'governor', 'parent',
                                                               'community_user', 'other')),
    host_name            TEXT NOT NULL,
    -- The host's staff account, when chosen from the academy's list.
    host_staff_id        TEXT,
    badge_code           TEXT NOT NULL,
    signed_in_at         INTEGER NOT NULL,
    escort_required      INTEGER NOT NULL CHECK (escort_required IN (0, 1)),
    -- The agreement covering the visit; it may reach the server in a later
    -- push, so it is not a foreign key.
    agreement_id         TEXT NOT NULL,
    agreement_version_id TEXT NOT NULL REFERENCES policy_versions (id),
    -- The VisitRecord as received: what the roll call hands back.
    record_json          TEXT NOT NULL,
    -- "staff:<user id>" or "device:<kind>:<device id>" (Caller::identification).
    identified_by        TEXT NOT NULL,
    received_at          INTEGER NOT NULL
);
-- Who is on site at an academy, oldest first.
CREATE INDEX visits_by_academy ON visits (academy_id, signed_in_at);

-- A visit's end: at most one; a second desk signing the same person out is a
-- duplicate, and the first end is kept.
CREATE TABLE visit_ends (
    id            TEXT PRIMARY KEY NOT NULL,
    visit_id      TEXT NOT NULL UNIQUE REFERENCES visits (id) ON DELETE CASCADE,
    device_id     TEXT NOT NULL,
    mutation_id   INTEGER NOT NULL,
    signed_out_at INTEGER NOT NULL,
    method        TEXT NOT NULL CHECK (method IN ('list', 'badge_scan', 'badge_code', 'end_of_day')),
    identified_by TEXT NOT NULL,
    received_at   INTEGER NOT NULL
);
-- The purge looks for ends older than a retention period.
CREATE INDEX visit_ends_by_time ON visit_ends (signed_out_at);
-- The roll call lists visits whose end arrived in the last day.
CREATE INDEX visit_ends_by_arrival ON visit_ends (received_at);

CREATE TRIGGER visit_never_changes BEFORE UPDATE ON visits
BEGIN
    SELECT RAISE(ABORT, 'a visit never changes; signing out is a new record');
END;
CREATE TRIGGER visit_end_never_changes BEFORE UPDATE ON visit_ends
BEGIN
    SELECT RAISE(ABORT, 'a visit''s end never changes');
END;

-- An academy's reception rules; an academy without a row has
-- ReceptionSettings::default().
CREATE TABLE reception_settings (
    academy_id            TEXT PRIMARY KEY NOT NULL REFERENCES academies (id),
    escort_rule           TEXT NOT NULL CHECK (escort_rule IN ('always', 'unless_id_and_dbs_checked', 'never')),
    device_retention_days INTEGER NOT NULL CHECK (device_retention_days BETWEEN 0 AND 9131),
    server_retention_days INTEGER NOT NULL CHECK (server_retention_days BETWEEN 1 AND 9131),
    updated_at            INTEGER NOT NULL
);
