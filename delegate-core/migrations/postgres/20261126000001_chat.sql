-- Chat sessions (conversations), their messages, and the usage ledger.
-- The PostgreSQL twin of migrations/sqlite/20261126000001_chat.sql, with native types:
-- ids are uuid (UUIDv7, so id order is creation order), times timestamptz.
-- Names are unqualified: the tables land in the connection's current schema.

CREATE TABLE chat_sessions (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title         text NOT NULL,
    model         text,
    system_prompt text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
-- A user's sessions, newest first, paged by id.
CREATE INDEX chat_sessions_user ON chat_sessions (user_id, id);

CREATE TABLE chat_messages (
    id                uuid PRIMARY KEY,
    session_id        uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role              text NOT NULL CHECK (role IN ('user', 'assistant')),
    content           text NOT NULL,
    status            text NOT NULL
                      CHECK (status IN ('complete', 'partial', 'failed', 'cancelled')),
    created_at        timestamptz NOT NULL,
    -- Both NULL when the message has no usage; bigint because the counts are u32.
    prompt_tokens     bigint,
    completion_tokens bigint,
    CHECK ((prompt_tokens IS NULL) = (completion_tokens IS NULL))
);
-- A session's messages in order, paged by id (and the cascade from chat_sessions).
CREATE INDEX chat_messages_session ON chat_messages (session_id, id);

-- Append-only; deliberately not tied to chat sessions, so deleting a chat refunds nothing.
CREATE TABLE usage_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at                timestamptz NOT NULL,
    messages          bigint NOT NULL CHECK (messages >= 0),
    prompt_tokens     bigint NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens bigint NOT NULL CHECK (completion_tokens >= 0)
);
-- Totals over a period.
CREATE INDEX usage_events_user_at ON usage_events (user_id, at);
