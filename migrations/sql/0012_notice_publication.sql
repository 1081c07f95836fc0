-- How far the notices a projection stored have been published on NATS. The runner publishes
-- a batch's notices after its commit; a leader that dies in between leaves them stored but
-- untold, and the next leader publishes again what follows this mark (sockets drop a copy of
-- a notice they had). Absent for a projection until its first publication.
CREATE TABLE notice_publication
(
    projection text   PRIMARY KEY,
    tx_id      xid8   NOT NULL,
    position   bigint NOT NULL
);

-- Notices in feed order, for that catch-up (the primary key leads with the user).
CREATE INDEX user_notices_feed_order ON user_notices (tx_id, position);
