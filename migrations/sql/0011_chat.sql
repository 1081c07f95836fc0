-- Chat: conversations, their participants with read positions, and messages (the `chat`
-- projection); and the membership and message counts the `notices` projection keeps to
-- address chat notices.
--
-- A message's `seq` is its place in its conversation (1, 2, 3, ...): the order of the
-- `message.sent` events in the feed, numbered by the projection, the same live and in
-- every replay. Texts and titles are opened with their author's key: NULL once erased.
-- `activity_position` is the highest position of the conversation's creation and its
-- messages (positions are taken at insert and may commit out of order, so the latest
-- message in the feed need not have the highest): the order of "my conversations",
-- newest activity first, and its cursor. It never moves back.

CREATE TABLE chat_conversations
(
    conversation_id   uuid PRIMARY KEY,
    kind              text        NOT NULL CHECK (kind IN ('direct', 'group')),
    -- Groups only; NULL for a direct conversation, or once its author is erased.
    title             text,
    created_by        text        NOT NULL,
    created_at        timestamptz NOT NULL,
    participant_count integer     NOT NULL,
    -- The seq of the latest message (0: none yet), and that message.
    last_seq          bigint      NOT NULL DEFAULT 0,
    last_message_id   uuid,
    last_sender_id    text,
    last_text         text,
    last_sent_at      timestamptz,
    activity_position bigint      NOT NULL
);

-- One row per conversation and user who ever took part. `left_at` is set while they are
-- not a participant. `unread` counts others' messages after `read_seq` (kept while they
-- take part); `activity_position` is the conversation's, copied for the list's index.
CREATE TABLE chat_participants
(
    conversation_id   uuid        NOT NULL,
    user_id           text        NOT NULL,
    joined_at         timestamptz NOT NULL,
    left_at           timestamptz,
    read_seq          bigint      NOT NULL DEFAULT 0,
    read_at           timestamptz,
    unread            bigint      NOT NULL DEFAULT 0,
    activity_position bigint      NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

CREATE INDEX chat_participants_list
    ON chat_participants (user_id, activity_position DESC) WHERE left_at IS NULL;

-- "My total unread count": an index-only scan over the conversations with unread messages.
CREATE INDEX chat_participants_unread
    ON chat_participants (user_id) INCLUDE (unread) WHERE left_at IS NULL AND unread > 0;

CREATE TABLE chat_messages
(
    conversation_id uuid        NOT NULL,
    seq             bigint      NOT NULL,
    message_id      uuid        NOT NULL UNIQUE,
    sender_id       text        NOT NULL,
    text            text,
    sent_at         timestamptz NOT NULL,
    position        bigint      NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- The current participants of each conversation, as the `notices` projection has them at
-- its place in the feed: who a chat notice goes to. `read_seq` follows the rules of
-- `chat_participants.read_seq`, so that `chat.read` is told only when it moved.
CREATE TABLE notice_conversation_members
(
    conversation_id uuid   NOT NULL,
    user_id         text   NOT NULL,
    read_seq        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);

-- Each conversation's message count as the `notices` projection has it: the `seq` of a
-- `chat.message` notice, numbered in feed order exactly as `chat_messages` numbers it,
-- without reading another projection's tables. `last_message_id` is the message counted
-- last: the same message applied again right after is not counted twice.
CREATE TABLE notice_conversations
(
    conversation_id uuid PRIMARY KEY,
    last_seq        bigint NOT NULL DEFAULT 0,
    last_message_id uuid
);
