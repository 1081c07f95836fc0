-- The user profile view, kept by the `users` projection.
CREATE TABLE user_table
(
    user_id           text PRIMARY KEY,
    email             text,
    email_public      boolean     NOT NULL DEFAULT false,
    first_name        text,
    last_name         text,
    birth_date        text,
    birth_date_public boolean     NOT NULL DEFAULT false,
    gender            text,
    gender_public     boolean     NOT NULL DEFAULT false,
    school            text,
    school_public     boolean     NOT NULL DEFAULT false,
    work              text,
    work_public       boolean     NOT NULL DEFAULT false,
    location          text,
    location_public   boolean     NOT NULL DEFAULT false,
    description       text,
    registered_at     timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    -- The position of the last event applied to this row, and how many were applied:
    -- equal to the user's number of events, or one was lost or applied twice.
    last_position     bigint      NOT NULL,
    version           bigint      NOT NULL
);

-- What each user's sockets are told, written by projections in the same transaction as
-- their checkpoint: the push service's recovery history.
CREATE TABLE user_notices
(
    user_id    text        NOT NULL,
    tx_id      xid8        NOT NULL,
    position   bigint      NOT NULL,
    kind       text        NOT NULL,
    data       jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, tx_id, position, kind)
);
