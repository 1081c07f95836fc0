-- Sharing: each user's sharing policy (the `policies` projection), and shared pages with
-- their per-recipient notifications (the `shares` projection).

-- One row per registered user: the mode and the two domain lists, sorted. Domains are in
-- clear: they name sites, not people.
CREATE TABLE sharing_policy
(
    user_id       text PRIMARY KEY,
    mode          text        NOT NULL CHECK (mode IN ('default_all', 'default_none')),
    allow         text[]      NOT NULL,
    deny          text[]      NOT NULL,
    updated_at    timestamptz NOT NULL,
    -- The position of the last event applied, and how many policy events were applied.
    last_position bigint      NOT NULL,
    version       bigint      NOT NULL
);

-- One row per share and recipient. `url`, `title` and `domain` are opened with the
-- sharer's key: NULL once the sharer is erased. `position` is the position of the
-- `share.created` event: the order of the feed of notifications, and its cursor.
CREATE TABLE share_notifications
(
    share_id     uuid        NOT NULL,
    recipient_id text        NOT NULL,
    sharer_id    text        NOT NULL,
    url          text,
    title        text,
    domain       text,
    shared_at    timestamptz NOT NULL,
    seen_at      timestamptz,
    position     bigint      NOT NULL,
    PRIMARY KEY (share_id, recipient_id)
);

CREATE INDEX share_notifications_feed ON share_notifications (recipient_id, position DESC);
CREATE INDEX share_notifications_unseen ON share_notifications (recipient_id) WHERE seen_at IS NULL;

-- One row per share, for its sharer.
CREATE TABLE shares_sent
(
    share_id        uuid PRIMARY KEY,
    sharer_id       text        NOT NULL,
    url             text,
    title           text,
    domain          text,
    shared_at       timestamptz NOT NULL,
    recipient_count integer     NOT NULL,
    position        bigint      NOT NULL
);

CREATE INDEX shares_sent_by_sharer ON shares_sent (sharer_id, position DESC);
