-- Governors, volunteers and community users get accounts too (invited like
-- staff), to sign what is written for them; they manage nothing. SQLite
-- changes a CHECK only by rebuilding the table.
CREATE TABLE user_roles_new (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('trust_admin', 'headteacher', 'esafety_lead', 'dsl', 'staff',
                                             'governor', 'volunteer', 'community_user')),
    academy_id TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, role, academy_id),
    CHECK ((role = 'trust_admin') = (academy_id = ''))
);
INSERT INTO user_roles_new (user_id, role, academy_id)
SELECT user_id, role, academy_id FROM user_roles;
DROP TABLE user_roles;
ALTER TABLE user_roles_new RENAME TO user_roles;
