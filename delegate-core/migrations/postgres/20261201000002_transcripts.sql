-- Transcripts and their full-text index: a generated tsvector (title weighted A, content B,
-- English stemming) with a GIN index, kept in step by the database on every write. The
-- PostgreSQL twin of migrations/sqlite/20261201000002_transcripts.sql.

CREATE TABLE transcripts (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id uuid,
    title      text NOT NULL,
    content    text NOT NULL,
    tags       text[] NOT NULL DEFAULT '{}',
    source     text NOT NULL CHECK (source IN ('chat', 'voice', 'manual')),
    word_count integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    search     tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', title), 'A') ||
        setweight(to_tsvector('english', content), 'B')
    ) STORED
);
-- A user's transcripts, newest first, paged by id.
CREATE INDEX transcripts_user ON transcripts (user_id, id);
CREATE INDEX transcripts_search ON transcripts USING gin (search);
