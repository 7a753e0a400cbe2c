-- The policy library: who a version is for, who owns it and when it was last
-- reviewed; the trust and its academies; the trust's rule tables, versioned;
-- and one change sequence over all of them, which is the pull cursor.

-- Who a version is for, as a JSON array of audience names ("staff", ...).
ALTER TABLE policy_versions ADD COLUMN audiences TEXT NOT NULL DEFAULT '[]';
-- The academy that owns the policy; NULL when the trust owns it.
ALTER TABLE policy_versions ADD COLUMN owner_academy_id TEXT;
-- Day of the review that produced the version, YYYY-MM-DD.
ALTER TABLE policy_versions ADD COLUMN last_reviewed TEXT NOT NULL DEFAULT '';

-- Versions published before this migration: approving a version for
-- publication is a review, so the day it was published is its last review;
-- their audiences are the usual ones for their kind (PolicyKind::default_audiences).
UPDATE policy_versions
SET last_reviewed = strftime('%Y-%m-%d', published_at / 1000, 'unixepoch')
WHERE last_reviewed = '';
UPDATE policy_versions SET audiences = CASE kind
    WHEN 'esafety_policy' THEN '["staff","governor","trustee","volunteer","parent_carer"]'
    WHEN 'staff_aua' THEN '["staff","governor","trustee","volunteer"]'
    WHEN 'pupil_aua' THEN '["pupil","parent_carer"]'
    WHEN 'parent_aua' THEN '["parent_carer"]'
    WHEN 'visitor_aua' THEN '["visitor","contractor","supply_teacher","trainee_teacher"]'
    WHEN 'community_aua' THEN '["community_user"]'
    WHEN 'byod_authorisation' THEN '["pupil","parent_carer"]'
    WHEN 'photo_consent' THEN '["parent_carer","pupil"]'
    ELSE '[]'
END
WHERE audiences = '[]';

-- The trust: at most one row.
CREATE TABLE trust (
    id                      TEXT PRIMARY KEY NOT NULL,
    only_one                INTEGER NOT NULL DEFAULT 1 UNIQUE CHECK (only_one = 1),
    name                    TEXT NOT NULL,
    chief_executive         TEXT NOT NULL, -- JSON Contact
    chair_of_trustees       TEXT NOT NULL, -- JSON Contact
    data_protection_officer TEXT NOT NULL, -- JSON Contact
    updated_at              INTEGER NOT NULL
);

CREATE TABLE academies (
    id            TEXT PRIMARY KEY NOT NULL,
    name          TEXT NOT NULL,
    key_personnel TEXT NOT NULL, -- JSON KeyPersonnel
    updated_at    INTEGER NOT NULL
);

-- Published versions of the rule tables. A row is never updated.
CREATE TABLE rules_versions (
    id           TEXT PRIMARY KEY NOT NULL,
    version      INTEGER NOT NULL UNIQUE CHECK (version >= 1),
    tables       TEXT NOT NULL, -- JSON RuleTables
    published_at INTEGER NOT NULL
);

-- Every change to what the server owns, numbered. `seq` is the pull cursor:
-- AUTOINCREMENT never reuses a number, and since SQLite has one writer at a
-- time, changes commit in the order of their numbers, so a reader never sees
-- seq n+1 before seq n. The triggers below write a row in the same statement
-- (so the same transaction) as the change itself; no code path can forget.
CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    entity    TEXT NOT NULL CHECK (entity IN ('policy_version', 'rules', 'academy', 'trust')),
    entity_id TEXT NOT NULL
);
CREATE INDEX changes_by_entity ON changes (entity, seq);

-- What was published before this migration is the first change of all.
INSERT INTO changes (entity, entity_id)
SELECT 'policy_version', id FROM policy_versions ORDER BY published_at, policy_id, version;

CREATE TRIGGER policy_version_published AFTER INSERT ON policy_versions
BEGIN
    INSERT INTO changes (entity, entity_id) VALUES ('policy_version', NEW.id);
END;
CREATE TRIGGER policy_version_never_changes BEFORE UPDATE ON policy_versions
BEGIN
    SELECT RAISE(ABORT, 'a published policy version never changes; publish a new version');
END;
CREATE TRIGGER policy_version_never_deleted BEFORE DELETE ON policy_versions
BEGIN
    SELECT RAISE(ABORT, 'a published policy version is never deleted');
END;

CREATE TRIGGER rules_published AFTER INSERT ON rules_versions
BEGIN
    INSERT INTO changes (entity, entity_id) VALUES ('rules', NEW.id);
END;
CREATE TRIGGER rules_never_change BEFORE UPDATE ON rules_versions
BEGIN
    SELECT RAISE(ABORT, 'published rule tables never change; publish a new version');
END;
CREATE TRIGGER rules_never_deleted BEFORE DELETE ON rules_versions
BEGIN
    SELECT RAISE(ABORT, 'published rule tables are never deleted');
END;

CREATE TRIGGER academy_added AFTER INSERT ON academies
BEGIN
    INSERT INTO changes (entity, entity_id) VALUES ('academy', NEW.id);
END;
CREATE TRIGGER academy_edited AFTER UPDATE ON academies
BEGIN
    INSERT INTO changes (entity, entity_id) VALUES ('academy', NEW.id);
END;

CREATE TRIGGER trust_added AFTER INSERT ON trust
BEGIN
    INSERT INTO changes (entity, entity_id) VALUES ('trust', NEW.id);
END;
CREATE TRIGGER trust_edited AFTER UPDATE ON trust
BEGIN
    INSERT INTO changes (entity, entity_id) VALUES ('trust', NEW.id);
END;
