-- The names the `notices` projection puts in the notices it tells (who sent a friend
-- request, who shared a page), kept by that projection itself from the user events.
-- Reading them from `user_table` instead would make a notice depend on how far another
-- projection had got; from its own table, a notice carries the names as of its event's
-- place in the feed, live and in every replay. Erased names are NULL.
CREATE TABLE notice_names
(
    user_id    text PRIMARY KEY,
    first_name text,
    last_name  text
);
