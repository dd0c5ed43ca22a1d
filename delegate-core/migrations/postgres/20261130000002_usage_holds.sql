-- Budget held for replies in flight: taken atomically before the provider is called, dropped
-- when the reply is settled (or, after a crash, when it expires).
CREATE TABLE usage_holds (
    message_id uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tokens     bigint NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX usage_holds_user ON usage_holds (user_id, expires_at);
