-- The event bus of processes sharing this file without Redis: published events, polled by
-- every running process. Only the newest rows are kept.
CREATE TABLE bus_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    topic   TEXT NOT NULL,
    payload BLOB NOT NULL
);
