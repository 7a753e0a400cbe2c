-- Who a OneRoster import's people are in Haven (haven_core::accounts::
-- oneroster, http/routes/roster.rs): each sourcedId is matched again by the
-- next import of a newer export. As sqlite/0016.

-- A member of staff the roster made or matched, and the academies it gave
-- them (JSON array), so a later export can take back only what it gave.
CREATE TABLE roster_staff (
    source_id TEXT PRIMARY KEY NOT NULL,
    user_id   TEXT NOT NULL UNIQUE REFERENCES users (id),
    academies TEXT NOT NULL
);

-- A family: one parent/carer's invitation at one academy. closed_at is set
-- when the family leaves (the invitation's link stops working; nothing is
-- deleted).
CREATE TABLE roster_families (
    parent_source_id TEXT NOT NULL,
    academy_id       TEXT NOT NULL REFERENCES academies (id),
    invitation_id    TEXT NOT NULL UNIQUE REFERENCES parent_invitations (id),
    closed_at        BIGINT,
    PRIMARY KEY (parent_source_id, academy_id)
);
