-- Haven's first schema. Ids are UUIDs as lowercase hyphenated text; times are
-- milliseconds since the Unix epoch; digests are SHA-256 as lowercase hex.

-- Published policy versions. A row is never updated: publishing makes a new row.
CREATE TABLE policy_versions (
    id              TEXT PRIMARY KEY NOT NULL,
    policy_id       TEXT NOT NULL,
    version         INTEGER NOT NULL CHECK (version >= 1),
    title           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    body_markdown   TEXT NOT NULL,
    approved_by     TEXT NOT NULL,
    effective_date  TEXT NOT NULL,
    next_review_due TEXT NOT NULL,
    published_at    INTEGER NOT NULL,
    text_sha256     TEXT NOT NULL,
    UNIQUE (policy_id, version)
);

-- One row per device that has pushed: the highest mutation number processed,
-- written in the same transaction as the mutations' effects.
CREATE TABLE devices (
    device_id        TEXT PRIMARY KEY NOT NULL,
    last_mutation_id INTEGER NOT NULL,
    last_seen_at     INTEGER
);

-- Signed agreements. Append-only: never updated or deleted by the API.
-- Only signatures with "I agree" ticked are accepted, so `agreed` is always 1;
-- it is kept so a row holds the whole record as the device sent it.
CREATE TABLE agreements (
    id                 TEXT PRIMARY KEY NOT NULL,
    policy_version_id  TEXT NOT NULL REFERENCES policy_versions (id),
    policy_text_sha256 TEXT NOT NULL,
    signer_name        TEXT NOT NULL,
    agreed             INTEGER NOT NULL DEFAULT 1 CHECK (agreed = 1),
    signed_at          INTEGER NOT NULL,
    device_id          TEXT NOT NULL,
    mutation_id        INTEGER NOT NULL,
    received_at        INTEGER NOT NULL
);
CREATE INDEX agreements_by_policy_version ON agreements (policy_version_id);

-- Mutations that can never be applied, kept with the reason for follow-up.
CREATE TABLE rejected_mutations (
    device_id   TEXT NOT NULL,
    mutation_id INTEGER NOT NULL,
    code        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    payload     TEXT NOT NULL,
    PRIMARY KEY (device_id, mutation_id)
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL
);

-- Bearer tokens, stored only as their SHA-256.
CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
