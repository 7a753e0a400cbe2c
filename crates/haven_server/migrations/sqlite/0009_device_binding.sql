-- A device id belongs to one device (docs/sync-protocol.md, "Identity").

-- What binds a device id: "enrolled:<enrolled_devices.id>" for an enrolled
-- device, "secret:<SHA-256 of the browser's own secret>" for any other
-- browser. NULL for an id that pushed before ids were bound: its next push
-- binds it. Who first pushed under it, and when, bounds how many new ids one
-- credential may start.
ALTER TABLE devices ADD COLUMN binding TEXT;
ALTER TABLE devices ADD COLUMN registered_by TEXT;
ALTER TABLE devices ADD COLUMN registered_at INTEGER;
CREATE INDEX devices_by_registrar ON devices (registered_by, registered_at);
CREATE INDEX devices_by_binding ON devices (binding);
-- Enrolled devices that already pushed are bound to their enrolment now.
UPDATE devices SET binding = 'enrolled:' ||
    (SELECT e.id FROM enrolled_devices e WHERE e.sync_device_id = devices.device_id)
    WHERE device_id IN (SELECT sync_device_id FROM enrolled_devices);

-- Every processed mutation, as the digest of its change (to tell a replay
-- from a different record under the same number) and, if it was refused,
-- its code and reason. Never its body: a refusal costs a small row.
CREATE TABLE processed_mutations (
    device_id     TEXT NOT NULL,
    mutation_id   INTEGER NOT NULL,
    change_sha256 TEXT,             -- NULL for refusals kept before digests
    code          TEXT,             -- set when refused
    reason        TEXT,
    pushed_by     TEXT NOT NULL,    -- Caller::identification of the push
    received_at   INTEGER NOT NULL, -- the server's clock
    PRIMARY KEY (device_id, mutation_id)
);
CREATE INDEX processed_refusals_by_pusher
    ON processed_mutations (pushed_by, received_at) WHERE code IS NOT NULL;

INSERT INTO processed_mutations
    (device_id, mutation_id, change_sha256, code, reason, pushed_by, received_at)
    SELECT device_id, mutation_id, NULL, code, reason, 'before 0009', received_at
    FROM rejected_mutations;
DROP TABLE rejected_mutations;
