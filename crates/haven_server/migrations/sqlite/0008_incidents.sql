-- E-safety incidents ([7/8]). An incident arrives sealed for the server
-- (incident_key.rs), is opened and checked against the rule tables in force,
-- and is kept as received: rows are never updated or deleted (triggers).
-- What the DSL does next is a row in `incident_follow_ups` pointing at it,
-- also never changed. Incidents are not pulled, so they write no `changes`.

CREATE TABLE incidents (
    id            TEXT PRIMARY KEY NOT NULL,
    academy_id    TEXT NOT NULL REFERENCES academies (id),
    -- The staff account of the person who logged it.
    reported_by   TEXT NOT NULL REFERENCES users (id),
    device_id     TEXT NOT NULL,
    mutation_id   INTEGER NOT NULL,
    occurred_at   INTEGER NOT NULL,
    -- Device clock at submission; received_at is the server's.
    reported_at   INTEGER NOT NULL,
    received_at   INTEGER NOT NULL,
    -- haven_core::rules::Involved, snake_case.
    involved      TEXT NOT NULL CHECK (involved IN ('pupil_in_lesson', 'pupil_outside_lesson',
                                                    'staff_member', 'headteacher', 'chief_executive')),
    incident_type TEXT NOT NULL,
    -- From the recommendation kept with it: suspected illegal; a route said "immediately".
    illegal       INTEGER NOT NULL CHECK (illegal IN (0, 1)),
    immediate     INTEGER NOT NULL CHECK (immediate IN (0, 1)),
    -- The IncidentRecord as opened: what the detail view hands back.
    record_json   TEXT NOT NULL,
    -- "staff:<user id>" or "device:<kind>:<device id>" (Caller::identification).
    identified_by TEXT NOT NULL
);
CREATE INDEX incidents_by_academy ON incidents (academy_id, received_at);
CREATE INDEX incidents_by_reporter ON incidents (reported_by, received_at);

CREATE TRIGGER incident_never_changes BEFORE UPDATE ON incidents
BEGIN
    SELECT RAISE(ABORT, 'an incident never changes; add a follow-up instead');
END;
CREATE TRIGGER incident_never_deleted BEFORE DELETE ON incidents
BEGIN
    SELECT RAISE(ABORT, 'an incident is never deleted');
END;

-- The chronology: actions, referrals, outcome, status changes.
CREATE TABLE incident_follow_ups (
    id          TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    by_user     TEXT NOT NULL REFERENCES users (id),
    at          INTEGER NOT NULL,
    -- FollowUpKind's tag, and the whole FollowUpKind as JSON.
    kind        TEXT NOT NULL CHECK (kind IN ('action_taken', 'referral_made', 'parents_informed',
                                              'second_investigator', 'outcome', 'status_changed')),
    kind_json   TEXT NOT NULL,
    -- For a status change, the new status: the incident's status is the
    -- latest of these (none: 'new').
    status      TEXT CHECK (status IN ('new', 'acknowledged', 'investigating', 'closed')),
    note        TEXT NOT NULL
);
CREATE INDEX incident_follow_ups_by_incident ON incident_follow_ups (incident_id, at);

CREATE TRIGGER incident_follow_up_never_changes BEFORE UPDATE ON incident_follow_ups
BEGIN
    SELECT RAISE(ABORT, 'a follow-up never changes; add another');
END;
CREATE TRIGGER incident_follow_up_never_deleted BEFORE DELETE ON incident_follow_ups
BEGIN
    SELECT RAISE(ABORT, 'a follow-up is never deleted');
END;
