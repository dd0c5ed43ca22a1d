-- Sharded, owner-scoped full-text search. One FTS5 index over every user's transcripts makes
-- BM25 count a word's documents across all of them on every search (tens of milliseconds for a
-- common word at 100,000 transcripts), so the index is split into 16 shards by the owner id's
-- last hex digit (random bits in a UUIDv7): a search reads one shard, about a sixteenth of the
-- postings. Each row also indexes its owner as a single token (`u` and the id's 32 hex
-- digits) in the `owner` column, and a search matches that token AND the query, so it walks
-- the caller's postings only. The shards are contentless (they keep no copy of the text);
-- triggers write them in the same transaction as every write, giving the values back on
-- delete. Rebuilt here from the rows already stored.

DROP TRIGGER transcripts_fts_insert;
DROP TRIGGER transcripts_fts_delete;
DROP TRIGGER transcripts_fts_update;
DROP TABLE transcripts_fts;

CREATE VIRTUAL TABLE transcripts_fts_0 USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_1 USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_2 USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_3 USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_4 USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_5 USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_6 USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_7 USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_8 USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_9 USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_a USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_b USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_c USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_d USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_e USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE transcripts_fts_f USING fts5(
    owner, title, content, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER transcripts_fts_insert AFTER INSERT ON transcripts BEGIN
    INSERT INTO transcripts_fts_0 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '0';
    INSERT INTO transcripts_fts_1 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '1';
    INSERT INTO transcripts_fts_2 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '2';
    INSERT INTO transcripts_fts_3 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '3';
    INSERT INTO transcripts_fts_4 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '4';
    INSERT INTO transcripts_fts_5 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '5';
    INSERT INTO transcripts_fts_6 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '6';
    INSERT INTO transcripts_fts_7 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '7';
    INSERT INTO transcripts_fts_8 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '8';
    INSERT INTO transcripts_fts_9 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '9';
    INSERT INTO transcripts_fts_a (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'a';
    INSERT INTO transcripts_fts_b (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'b';
    INSERT INTO transcripts_fts_c (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'c';
    INSERT INTO transcripts_fts_d (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'd';
    INSERT INTO transcripts_fts_e (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'e';
    INSERT INTO transcripts_fts_f (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'f';
END;
CREATE TRIGGER transcripts_fts_delete AFTER DELETE ON transcripts BEGIN
    INSERT INTO transcripts_fts_0 (transcripts_fts_0, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '0';
    INSERT INTO transcripts_fts_1 (transcripts_fts_1, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '1';
    INSERT INTO transcripts_fts_2 (transcripts_fts_2, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '2';
    INSERT INTO transcripts_fts_3 (transcripts_fts_3, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '3';
    INSERT INTO transcripts_fts_4 (transcripts_fts_4, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '4';
    INSERT INTO transcripts_fts_5 (transcripts_fts_5, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '5';
    INSERT INTO transcripts_fts_6 (transcripts_fts_6, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '6';
    INSERT INTO transcripts_fts_7 (transcripts_fts_7, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '7';
    INSERT INTO transcripts_fts_8 (transcripts_fts_8, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '8';
    INSERT INTO transcripts_fts_9 (transcripts_fts_9, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '9';
    INSERT INTO transcripts_fts_a (transcripts_fts_a, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'a';
    INSERT INTO transcripts_fts_b (transcripts_fts_b, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'b';
    INSERT INTO transcripts_fts_c (transcripts_fts_c, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'c';
    INSERT INTO transcripts_fts_d (transcripts_fts_d, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'd';
    INSERT INTO transcripts_fts_e (transcripts_fts_e, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'e';
    INSERT INTO transcripts_fts_f (transcripts_fts_f, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'f';
END;
CREATE TRIGGER transcripts_fts_update AFTER UPDATE OF title, content ON transcripts BEGIN
    INSERT INTO transcripts_fts_0 (transcripts_fts_0, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '0';
    INSERT INTO transcripts_fts_1 (transcripts_fts_1, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '1';
    INSERT INTO transcripts_fts_2 (transcripts_fts_2, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '2';
    INSERT INTO transcripts_fts_3 (transcripts_fts_3, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '3';
    INSERT INTO transcripts_fts_4 (transcripts_fts_4, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '4';
    INSERT INTO transcripts_fts_5 (transcripts_fts_5, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '5';
    INSERT INTO transcripts_fts_6 (transcripts_fts_6, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '6';
    INSERT INTO transcripts_fts_7 (transcripts_fts_7, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '7';
    INSERT INTO transcripts_fts_8 (transcripts_fts_8, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '8';
    INSERT INTO transcripts_fts_9 (transcripts_fts_9, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = '9';
    INSERT INTO transcripts_fts_a (transcripts_fts_a, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'a';
    INSERT INTO transcripts_fts_b (transcripts_fts_b, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'b';
    INSERT INTO transcripts_fts_c (transcripts_fts_c, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'c';
    INSERT INTO transcripts_fts_d (transcripts_fts_d, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'd';
    INSERT INTO transcripts_fts_e (transcripts_fts_e, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'e';
    INSERT INTO transcripts_fts_f (transcripts_fts_f, rowid, owner, title, content)
    SELECT 'delete', old.seq, 'u' || replace(old.user_id, '-', ''), old.title, old.content
    WHERE substr(old.user_id, 36, 1) = 'f';
    INSERT INTO transcripts_fts_0 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '0';
    INSERT INTO transcripts_fts_1 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '1';
    INSERT INTO transcripts_fts_2 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '2';
    INSERT INTO transcripts_fts_3 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '3';
    INSERT INTO transcripts_fts_4 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '4';
    INSERT INTO transcripts_fts_5 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '5';
    INSERT INTO transcripts_fts_6 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '6';
    INSERT INTO transcripts_fts_7 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '7';
    INSERT INTO transcripts_fts_8 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '8';
    INSERT INTO transcripts_fts_9 (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = '9';
    INSERT INTO transcripts_fts_a (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'a';
    INSERT INTO transcripts_fts_b (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'b';
    INSERT INTO transcripts_fts_c (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'c';
    INSERT INTO transcripts_fts_d (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'd';
    INSERT INTO transcripts_fts_e (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'e';
    INSERT INTO transcripts_fts_f (rowid, owner, title, content)
    SELECT new.seq, 'u' || replace(new.user_id, '-', ''), new.title, new.content
    WHERE substr(new.user_id, 36, 1) = 'f';
END;

INSERT INTO transcripts_fts_0 (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = '0';
INSERT INTO transcripts_fts_1 (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = '1';
INSERT INTO transcripts_fts_2 (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = '2';
INSERT INTO transcripts_fts_3 (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = '3';
INSERT INTO transcripts_fts_4 (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = '4';
INSERT INTO transcripts_fts_5 (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = '5';
INSERT INTO transcripts_fts_6 (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = '6';
INSERT INTO transcripts_fts_7 (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = '7';
INSERT INTO transcripts_fts_8 (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = '8';
INSERT INTO transcripts_fts_9 (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = '9';
INSERT INTO transcripts_fts_a (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = 'a';
INSERT INTO transcripts_fts_b (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = 'b';
INSERT INTO transcripts_fts_c (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = 'c';
INSERT INTO transcripts_fts_d (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = 'd';
INSERT INTO transcripts_fts_e (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = 'e';
INSERT INTO transcripts_fts_f (rowid, owner, title, content)
SELECT seq, 'u' || replace(user_id, '-', ''), title, content FROM transcripts
WHERE substr(user_id, 36, 1) = 'f';
