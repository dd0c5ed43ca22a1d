-- Accounts, login sessions (device tracking), refresh-token families and the jti denylist.
-- The PostgreSQL twin of migrations/sqlite/20261125000001_auth.sql, with native types:
-- ids are uuid, times timestamptz (microsecond precision), preferences jsonb.
-- Names are unqualified: the tables land in the connection's current schema.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    name          text NOT NULL,
    password_hash text NOT NULL,
    tier          text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise')),
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    preferences   jsonb NOT NULL DEFAULT '{}'::jsonb,
    avatar_url    text,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE login_sessions (
    id                 uuid PRIMARY KEY,
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_name        text,
    device_platform    text,
    device_fingerprint text,
    user_agent         text,
    ip                 text,
    created_at         timestamptz NOT NULL,
    last_seen_at       timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz
);
CREATE INDEX login_sessions_user ON login_sessions (user_id, created_at);

CREATE TABLE refresh_tokens (
    hash       text PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES login_sessions (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL,
    issued_at  timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);
-- The periodic purge deletes by issue time.
CREATE INDEX refresh_tokens_issued ON refresh_tokens (issued_at);

CREATE TABLE denied_tokens (
    jti        text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
-- `active` and the periodic purge select by expiry.
CREATE INDEX denied_tokens_expires ON denied_tokens (expires_at);
