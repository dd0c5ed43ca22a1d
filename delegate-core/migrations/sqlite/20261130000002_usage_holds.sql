-- Budget held for replies in flight: taken atomically before the provider is called, dropped
-- when the reply is settled (or, after a crash, when it expires). `expires_at` in Unix ms.
CREATE TABLE usage_holds (
    message_id TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tokens     INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX usage_holds_user ON usage_holds (user_id, expires_at);
