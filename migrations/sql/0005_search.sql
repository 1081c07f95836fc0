-- Indexes for user search and the users directory (query API). No table changes.

-- Trigrams make "contains" searches on names indexable. pg_trgm ships with PostgreSQL
-- (contrib, in Debian's package and the official image) and is a trusted extension.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Name search: "first last", lower case. A first- or last-name match is a match on it,
-- so one index serves every name search; the expression must stay identical to the
-- query API's (query-api/src/search/store.rs).
CREATE INDEX user_name_search ON user_table
    USING gin ((lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))) gin_trgm_ops);

-- E-mail search: exact or prefix, case-insensitive.
CREATE INDEX user_email_prefix ON user_table (lower(email) text_pattern_ops);

-- The directory: newest registrations first, then by id.
CREATE INDEX user_directory ON user_table (registered_at DESC, user_id);
