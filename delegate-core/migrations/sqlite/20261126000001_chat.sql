-- Chat sessions (conversations), their messages, and the usage ledger.
-- Times are Unix milliseconds (UTC); ids are UUID text (UUIDv7, so id order is creation order).

CREATE TABLE chat_sessions (
    id            TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title         TEXT NOT NULL,
    model         TEXT,
    system_prompt TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
-- A user's sessions, newest first, paged by id.
CREATE INDEX chat_sessions_user ON chat_sessions (user_id, id);

CREATE TABLE chat_messages (
    id                TEXT PRIMARY KEY NOT NULL,
    session_id        TEXT NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    role              TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content           TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('complete', 'partial', 'failed', 'cancelled')),
    created_at        INTEGER NOT NULL,
    -- Both NULL when the message has no usage.
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    CHECK ((prompt_tokens IS NULL) = (completion_tokens IS NULL))
);
-- A session's messages in order, paged by id (and the cascade from chat_sessions).
CREATE INDEX chat_messages_session ON chat_messages (session_id, id);

-- Append-only; deliberately not tied to chat sessions, so deleting a chat refunds nothing.
CREATE TABLE usage_events (
    id                INTEGER PRIMARY KEY,
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at                INTEGER NOT NULL,
    messages          INTEGER NOT NULL CHECK (messages >= 0),
    prompt_tokens     INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL CHECK (completion_tokens >= 0)
);
-- Totals over a period.
CREATE INDEX usage_events_user_at ON usage_events (user_id, at);
