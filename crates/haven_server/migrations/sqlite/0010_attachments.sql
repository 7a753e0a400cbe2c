-- Incident attachments travel apart from their incident (docs/sync-protocol.md,
-- "How attachments travel"). The device encrypts each file with a key of its
-- own, which only the sealed incident carries, and uploads the ciphertext in
-- pieces named by its SHA-256. The server keeps the ciphertext as it came and
-- opens it only to serve it to someone who may read the incident.

CREATE TABLE attachment_uploads (
    -- SHA-256 of the whole encrypted file, lowercase hex.
    sha256       TEXT PRIMARY KEY NOT NULL CHECK (length(sha256) = 64),
    -- Bytes of the encrypted file and how many pieces it travels in.
    size         INTEGER NOT NULL CHECK (size > 0),
    pieces       INTEGER NOT NULL CHECK (pieces > 0),
    -- Caller::identification of whoever sent its first piece: what is not
    -- yet part of an incident counts against that credential's bound.
    uploaded_by  TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    -- Set once every piece is in and the whole has the digest `sha256`.
    completed_at INTEGER
);
CREATE INDEX attachment_uploads_by_uploader ON attachment_uploads (uploaded_by);
CREATE INDEX attachment_uploads_by_start ON attachment_uploads (started_at);

CREATE TABLE attachment_pieces (
    sha256 TEXT NOT NULL REFERENCES attachment_uploads (sha256) ON DELETE CASCADE,
    idx    INTEGER NOT NULL CHECK (idx >= 0),
    bytes  BLOB NOT NULL,
    PRIMARY KEY (sha256, idx)
);

-- Which incident names which attachment, written with the incident. An
-- upload no incident names is pending for its uploader, and is purged
-- after haven_core::incident::ABANDONED_UPLOAD_MS.
CREATE TABLE incident_attachments (
    sha256      TEXT NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    PRIMARY KEY (sha256, incident_id)
);
