-- Owner-scoped full-text search: the FTS5 index also holds each transcript's owner id (as
-- its tokens), and a search matches the owner's id phrase AND the query, so FTS5 walks the
-- caller's postings instead of every user's and then looking each row's owner up. The SQL
-- still checks `user_id` (the index only narrows). Rebuilt from the rows already stored.

DROP TRIGGER transcripts_fts_insert;
DROP TRIGGER transcripts_fts_delete;
DROP TRIGGER transcripts_fts_update;
DROP TABLE transcripts_fts;

CREATE VIRTUAL TABLE transcripts_fts USING fts5(
    user_id, title, content,
    content = 'transcripts', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER transcripts_fts_insert AFTER INSERT ON transcripts BEGIN
    INSERT INTO transcripts_fts (rowid, user_id, title, content)
    VALUES (new.seq, new.user_id, new.title, new.content);
END;
CREATE TRIGGER transcripts_fts_delete AFTER DELETE ON transcripts BEGIN
    INSERT INTO transcripts_fts (transcripts_fts, rowid, user_id, title, content)
    VALUES ('delete', old.seq, old.user_id, old.title, old.content);
END;
CREATE TRIGGER transcripts_fts_update AFTER UPDATE OF title, content ON transcripts BEGIN
    INSERT INTO transcripts_fts (transcripts_fts, rowid, user_id, title, content)
    VALUES ('delete', old.seq, old.user_id, old.title, old.content);
    INSERT INTO transcripts_fts (rowid, user_id, title, content)
    VALUES (new.seq, new.user_id, new.title, new.content);
END;

INSERT INTO transcripts_fts (transcripts_fts) VALUES ('rebuild');
