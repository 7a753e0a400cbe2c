-- Accounts, roles and devices ([4/8]): staff with roles per academy, sessions
-- that can be listed and ended, one-time links (first admin set-up, staff
-- invitations, parent invitations), enrolled devices, and the audit log.
-- Every token, code and link is stored only as its SHA-256; passwords as
-- argon2id; TOTP secrets sealed with the server key (see keys.rs).

ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1));
ALTER TABLE users ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
-- Sealed TOTP secret once confirmed; NULL means no second factor.
ALTER TABLE users ADD COLUMN totp_sealed TEXT;
-- A secret being enrolled, not yet confirmed with a code.
ALTER TABLE users ADD COLUMN totp_pending_sealed TEXT;
-- The last TOTP time step accepted, so a code cannot be used twice.
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;

-- What each person holds. `academy_id` is '' for the trust-wide role
-- (trust_admin) so that the primary key has no NULL in it.
CREATE TABLE user_roles (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('trust_admin', 'headteacher', 'esafety_lead', 'dsl', 'staff')),
    academy_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, role, academy_id),
    CHECK ((role = 'trust_admin') = (academy_id = ''))
);
INSERT INTO user_roles (user_id, role, academy_id)
SELECT id, 'trust_admin', '' FROM users WHERE role = 'admin';

-- Sessions gain a kind: a staff session may be `limited` (signed in with a
-- password but still owing the second factor the trust requires), and a parent
-- session belongs to the invitation it was redeemed from.
ALTER TABLE sessions ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN limited INTEGER NOT NULL DEFAULT 0;

-- One-time links: the first trust admin's set-up and staff invitations.
CREATE TABLE account_links (
    token_sha256 TEXT PRIMARY KEY NOT NULL,
    purpose      TEXT NOT NULL CHECK (purpose IN ('setup', 'staff_invitation')),
    user_id      TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER
);

-- Parent/carer invitations made from a class list; siblings share one.
CREATE TABLE parent_invitations (
    id           TEXT PRIMARY KEY NOT NULL,
    academy_id   TEXT NOT NULL REFERENCES academies (id),
    parent_name  TEXT NOT NULL,
    parent_email TEXT,
    children     TEXT NOT NULL, -- JSON [Child]
    token_sha256 TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    redeemed_at  INTEGER
);
CREATE INDEX parent_invitations_by_academy ON parent_invitations (academy_id, created_at);

-- What a redeemed invitation link turns into: a session for that parent only.
CREATE TABLE parent_sessions (
    token_sha256  TEXT PRIMARY KEY NOT NULL,
    invitation_id TEXT NOT NULL REFERENCES parent_invitations (id) ON DELETE CASCADE,
    expires_at    INTEGER NOT NULL
);

-- Short codes an admin makes to enrol a reception kiosk or shared tablet.
CREATE TABLE enrolment_codes (
    code_sha256 TEXT PRIMARY KEY NOT NULL,
    academy_id  TEXT NOT NULL REFERENCES academies (id),
    kind        TEXT NOT NULL CHECK (kind IN ('reception_kiosk', 'shared_tablet')),
    label       TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);

-- Enrolled devices and their long-lived token. `sync_device_id` is the id the
-- device numbers its mutations under (devices.device_id).
CREATE TABLE enrolled_devices (
    id              TEXT PRIMARY KEY NOT NULL,
    sync_device_id  TEXT NOT NULL UNIQUE,
    academy_id      TEXT NOT NULL REFERENCES academies (id),
    kind            TEXT NOT NULL CHECK (kind IN ('reception_kiosk', 'shared_tablet')),
    label           TEXT NOT NULL,
    token_sha256    TEXT NOT NULL UNIQUE,
    enrolled_at     INTEGER NOT NULL,
    enrolled_by     TEXT NOT NULL,
    last_contact_at INTEGER NOT NULL,
    revoked_at      INTEGER
);

-- Who did what: sign-ins, failures, changes to accounts and devices, and every
-- read of a sensitive record. Append-only.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,          -- "user:<id>", "device:<id>", "parent:<id>" or "anonymous"
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL DEFAULT '',
    academy_id TEXT NOT NULL DEFAULT '',
    client     TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_by_time ON audit_log (at);
CREATE TRIGGER audit_log_never_changes BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_never_deleted BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- Trust-wide settings for accounts.
CREATE TABLE account_settings (
    only_one                  INTEGER PRIMARY KEY NOT NULL DEFAULT 1 CHECK (only_one = 1),
    -- JSON array of roles that must use a second factor, e.g. ["trust_admin","dsl"].
    second_factor_required    TEXT NOT NULL DEFAULT '[]',
    -- Minutes of no use before a shared tablet locks itself.
    idle_lock_minutes         INTEGER NOT NULL DEFAULT 5 CHECK (idle_lock_minutes BETWEEN 1 AND 120)
);
INSERT INTO account_settings (only_one) VALUES (1);
