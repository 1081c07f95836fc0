-- Popular pages (the `popular` projection): the most-shared domains, the shared pages of
-- each domain and the most active sharers, counted from `share.created` events.
-- A share whose page no longer opens (its sharer was erased) is counted for its sharer
-- only: domains and URLs are kept in clear here, so they must come from an open share.

-- The shares already counted: a share applied again is not counted twice.
CREATE TABLE popular_counted
(
    share_id uuid PRIMARY KEY,
    position bigint NOT NULL
);

CREATE TABLE popular_domains
(
    domain      text PRIMARY KEY,
    share_count bigint NOT NULL
);

CREATE INDEX popular_domains_rank ON popular_domains (share_count DESC, domain);

-- `title` is the latest title seen for the page, in feed order.
CREATE TABLE popular_pages
(
    domain         text        NOT NULL,
    url            text        NOT NULL,
    title          text,
    share_count    bigint      NOT NULL,
    last_shared_at timestamptz NOT NULL,
    PRIMARY KEY (domain, url)
);

CREATE INDEX popular_pages_rank ON popular_pages (domain, share_count DESC, last_shared_at DESC, url);

CREATE TABLE sharer_stats
(
    user_id     text PRIMARY KEY,
    share_count bigint NOT NULL
);

CREATE INDEX sharer_stats_rank ON sharer_stats (share_count DESC, user_id);
