-- The event store: postgres-es's `events` table, extended for ordered reading.
-- The added columns all have defaults, so postgres-es (which names only its seven
-- columns) still reads and writes this table unchanged.
CREATE TABLE events
(
    aggregate_type text                         NOT NULL,
    aggregate_id   text                         NOT NULL,
    sequence       bigint CHECK (sequence >= 0) NOT NULL,
    event_type     text                         NOT NULL,
    event_version  text                         NOT NULL,
    payload        json                         NOT NULL,
    metadata       json                         NOT NULL,
    -- A global id, taken at insert: increasing within an aggregate, but commits land
    -- out of order, so it is never a cursor on its own (see `tx_id`).
    position       bigint GENERATED ALWAYS AS IDENTITY,
    -- The writing transaction. Readers go in (tx_id, position) order and only below
    -- pg_snapshot_xmin(pg_current_snapshot()), so they never pass over a late commit.
    tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id       uuid        NOT NULL DEFAULT gen_random_uuid(),
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    -- The only unique constraint: postgres-es turns any unique violation into a
    -- conflict, so no other unique index may exist here.
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE INDEX events_feed_order ON events (tx_id, position);
CREATE INDEX events_by_position ON events (position);

-- Wake readers (the relay, replays) when events commit. NOTIFY is delivered at commit,
-- once per transaction and channel; readers also poll, so a lost wake-up costs latency only.
CREATE FUNCTION events_notify() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('events_appended', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify
    AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_notify();

-- How far each reader of the feed has got: the relay and each projection.
-- A projection writes its row in the same transaction as its view rows.
CREATE TABLE checkpoints
(
    name            text PRIMARY KEY,
    tx_id           xid8        NOT NULL,
    position        bigint      NOT NULL,
    -- The JetStream stream sequence of the last message taken (0 for none).
    stream_sequence bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- One key per user for the personal data inside event payloads. Deleting a user's
-- row makes every sealed value of theirs unreadable, in every replay.
CREATE TABLE personal_data_keys
(
    user_id    text PRIMARY KEY,
    key        bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
