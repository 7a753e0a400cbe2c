-- Signing records ([5/8]): a decline is a record too, so the CHECK (agreed = 1)
-- goes (SQLite changes a CHECK only by rebuilding the table); the whole record
-- is kept as received with its digest and receipt code, and how the signer was
-- identified; and accepted records form a hash chain in `ledger`.

CREATE TABLE agreements_new (
    id                 TEXT PRIMARY KEY NOT NULL,
    policy_version_id  TEXT NOT NULL REFERENCES policy_versions (id),
    policy_text_sha256 TEXT NOT NULL,
    signer_name        TEXT NOT NULL,
    agreed             INTEGER NOT NULL CHECK (agreed IN (0, 1)),
    signed_at          INTEGER NOT NULL,
    device_id          TEXT NOT NULL,
    mutation_id        INTEGER NOT NULL,
    received_at        INTEGER NOT NULL,
    -- The record's canonical JSON (AgreementRecord::record_sha256 is over it).
    record_json        TEXT NOT NULL DEFAULT '',
    record_sha256      TEXT NOT NULL DEFAULT '',
    receipt_code       TEXT NOT NULL DEFAULT '',
    -- "staff:<user id>", "device:<kind>:<device id>", "parent:<invitation id>".
    identified_by      TEXT NOT NULL DEFAULT '',
    -- The staff account that signed for itself, if any (compliance counts by it).
    signer_account     TEXT
);
INSERT INTO agreements_new (id, policy_version_id, policy_text_sha256, signer_name, agreed,
                            signed_at, device_id, mutation_id, received_at)
SELECT id, policy_version_id, policy_text_sha256, signer_name, agreed,
       signed_at, device_id, mutation_id, received_at
FROM agreements;
DROP TABLE agreements;
ALTER TABLE agreements_new RENAME TO agreements;
CREATE INDEX agreements_by_policy_version ON agreements (policy_version_id);
CREATE INDEX agreements_by_receipt_code ON agreements (receipt_code);
CREATE INDEX agreements_by_signer_account ON agreements (signer_account);

-- Append-only: rows from before this migration get their digest filled in
-- once (ledger::backfill), and nothing else ever changes.
CREATE TRIGGER agreement_never_changes BEFORE UPDATE ON agreements
WHEN OLD.record_sha256 <> ''
BEGIN
    SELECT RAISE(ABORT, 'a signed agreement never changes');
END;
CREATE TRIGGER agreement_never_deleted BEFORE DELETE ON agreements
BEGIN
    SELECT RAISE(ABORT, 'a signed agreement is never deleted');
END;

-- The hash chain (haven_core::ledger). AUTOINCREMENT never reuses a number,
-- so a gap is a removed entry.
CREATE TABLE ledger (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    agreement_id  TEXT NOT NULL UNIQUE,
    record_sha256 TEXT NOT NULL,
    received_at   INTEGER NOT NULL,
    identified_by TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    entry_hash    TEXT NOT NULL
);
CREATE TRIGGER ledger_never_changes BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
CREATE TRIGGER ledger_never_deleted BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
