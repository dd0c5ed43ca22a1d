-- Operator controls: an account can be disabled; the audit trail (append-only, kept for the
-- configured retention). Audit rows name users by id without a foreign key, so the trail of
-- a deleted account survives it. The PostgreSQL twin of migrations/sqlite/20261201000001_admin.sql.

ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false;

CREATE TABLE audit_events (
    id         uuid PRIMARY KEY,
    at         timestamptz NOT NULL,
    kind       text NOT NULL,
    actor_kind text NOT NULL CHECK (actor_kind IN ('user', 'operator', 'system', 'anonymous')),
    actor_id   uuid,
    target_id  uuid,
    ip         text,
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);
-- Newest first for one user (as actor or as target), and retention by time.
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_target ON audit_events (target_id, id);
CREATE INDEX audit_events_at ON audit_events (at);
