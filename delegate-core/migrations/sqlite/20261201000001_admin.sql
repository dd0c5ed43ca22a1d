-- Operator controls: an account can be disabled; the audit trail (append-only, kept for the
-- configured retention). Audit rows name users by id without a foreign key, so the trail of
-- a deleted account survives it. Times are Unix milliseconds (UTC); ids are UUID text.

ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));

CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY NOT NULL,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'operator', 'system', 'anonymous')),
    actor_id   TEXT,
    target_id  TEXT,
    ip         TEXT,
    detail     TEXT NOT NULL DEFAULT '{}'
);
-- Newest first for one user (as actor or as target), and retention by time.
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_target ON audit_events (target_id, id);
CREATE INDEX audit_events_at ON audit_events (at);
