-- A credential that can only send one browser's records ([2/8] part 2).
--
-- A browser that is not an enrolled device used to keep the signed-in
-- person's whole staff session readable in IndexedDB, so that its outbox
-- drains while the screen is locked. It now keeps this instead: made from a
-- full session (POST /auth/sync-credential), good only for pushing and
-- uploading attachments, only under device ids bound to the browser's own
-- secret (its SHA-256 is kept here), and only while that session lasts:
-- signing out, "sign out everywhere", an admin's second-factor reset or
-- deactivating the account ends it with the session.
CREATE TABLE sync_credentials (
    token_sha256         TEXT PRIMARY KEY NOT NULL,
    session_sha256       TEXT NOT NULL REFERENCES sessions (token_sha256) ON DELETE CASCADE,
    device_secret_sha256 TEXT NOT NULL,
    created_at           INTEGER NOT NULL,
    -- One per session and browser: asking again replaces it.
    UNIQUE (session_sha256, device_secret_sha256)
);
