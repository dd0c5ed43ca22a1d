-- Transcripts and their full-text index. `seq` is the stable integer key the FTS5 index
-- refers to (an implicit rowid may change on VACUUM); `id` is the UUID the API uses.
-- The index is external-content FTS5 (porter stemming, case and accent folding), kept in
-- step by triggers in the same transaction as every write. Times are Unix ms; tags a JSON
-- array of text.

CREATE TABLE transcripts (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT,
    title      TEXT NOT NULL,
    content    TEXT NOT NULL,
    tags       TEXT NOT NULL DEFAULT '[]',
    source     TEXT NOT NULL CHECK (source IN ('chat', 'voice', 'manual')),
    word_count INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- A user's transcripts, newest first, paged by id.
CREATE INDEX transcripts_user ON transcripts (user_id, id);

CREATE VIRTUAL TABLE transcripts_fts USING fts5(
    title, content,
    content = 'transcripts', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER transcripts_fts_insert AFTER INSERT ON transcripts BEGIN
    INSERT INTO transcripts_fts (rowid, title, content) VALUES (new.seq, new.title, new.content);
END;
CREATE TRIGGER transcripts_fts_delete AFTER DELETE ON transcripts BEGIN
    INSERT INTO transcripts_fts (transcripts_fts, rowid, title, content)
    VALUES ('delete', old.seq, old.title, old.content);
END;
CREATE TRIGGER transcripts_fts_update AFTER UPDATE OF title, content ON transcripts BEGIN
    INSERT INTO transcripts_fts (transcripts_fts, rowid, title, content)
    VALUES ('delete', old.seq, old.title, old.content);
    INSERT INTO transcripts_fts (rowid, title, content) VALUES (new.seq, new.title, new.content);
END;
