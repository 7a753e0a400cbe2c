-- What changed since the previous version, in the publisher's words (issue
-- 18, part 4): shown to everyone asked to sign a policy again. Required by
-- POST /api/v1/policies for a new version of an existing policy (checked in
-- haven_core::policy::PublishPolicyVersion::check_change_summary), absent
-- for a first version and for the versions published before this column.
-- Like the rest of a published row it never changes (the triggers of 0003).
ALTER TABLE policy_versions ADD COLUMN change_summary TEXT;
