-- Indexes for the audit tools (`pagenow events`): every event a user caused, everything
-- one request did, and time ranges. No table changes.
--
-- `metadata` is `json` (postgres-es's schema): `->>` on json is immutable, so it can be
-- indexed; the audit queries use exactly these expressions. Both keys are absent from
-- events written without them (NULL, which the indexes keep cheaply).
CREATE INDEX events_by_user ON events ((metadata ->> 'user_id'), tx_id, position);
CREATE INDEX events_by_correlation ON events ((metadata ->> 'correlation_id'));

-- recorded_at grows with insertion order, so a BRIN index answers time ranges for a
-- fraction of a B-tree's size and insert cost.
CREATE INDEX events_by_time ON events USING brin (recorded_at);
