-- The friendship view, kept by the `friendships` projection: two rows per related pair,
-- one from each side, so "my friends" and "my relationship with X" are single-key reads.
-- Declined, cancelled and removed relationships have no rows.
CREATE TABLE friendship_table
(
    user_id       text        NOT NULL,
    other_id      text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('pending', 'accepted')),
    -- Who sent the request: `user_id` (outgoing) or `other_id` (incoming).
    requested_by  text        NOT NULL,
    requested_at  timestamptz NOT NULL,
    accepted_at   timestamptz,
    last_position bigint      NOT NULL,
    PRIMARY KEY (user_id, other_id)
);

CREATE INDEX friendship_by_status ON friendship_table (user_id, status, accepted_at DESC);
