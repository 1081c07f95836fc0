-- The push service deletes notices older than its retention (7 days by default), a
-- batch at a time, on every node: find them by age without reading the whole table.
-- Recovery itself reads by (user_id, tx_id, position), the primary key.
CREATE INDEX user_notices_created_at ON user_notices (created_at);
