-- Bus payloads too large for a NOTIFY (8000 bytes): the notification carries the row id.
-- Rows are pruned after an hour (by the database's clock).
CREATE TABLE bus_payloads (
    id         bigserial PRIMARY KEY,
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
