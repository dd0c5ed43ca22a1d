-- Owner-scoped, accent-folded full-text search: the search vector also holds the owner's id as
-- one lexeme (`u` and its 32 hex digits, weight D, which ranking gives no weight), and a search
-- matches that lexeme AND the query, so the GIN index intersects the caller's postings with the
-- query's instead of handing back every user's matches to filter row by row. The vector is
-- recomputed for the rows already stored. A search ranks a user's newest matches; when its
-- words are in most of them, they are found walking the user's transcripts newest first. The
-- PostgreSQL twin of migrations/sqlite/20261201000004_transcripts_shards.sql.

-- Accent folding, as SQLite's `remove_diacritics` and Delegate's query parser do it: a letter
-- of the Latin-1, Latin Extended and Latin Extended Additional blocks with a canonical
-- decomposition into one base letter and combining marks becomes that base letter ("café" is indexed as "cafe"). Written
-- with translate() so no extension (unaccent) is needed.
CREATE FUNCTION transcript_fold(text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT translate($1,
    'ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǢǣǦǧǨǩǪǫǬǭǮǯǰǴǵǸǹǺǻǼǽǾǿȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮṯṰṱṲṳṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẛẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹ',
    'AAAAAACEEEEIIIINOOOOOUUUUYaaaaaaceeeeiiiinooooouuuuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNnOoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuUuAaAaÆæGgKkOoOoƷʒjGgNnAaÆæØøAaAaEeEeIiIiOoOoRrRrUuUuSsTtHhAaEeOoOoOoOoYyAaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHhHhHhHhHhIiIiKkKkKkLlLlLlLlMmMmMmNnNnNnNnOoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUuUuUuUuUuVvVvWwWwWwWwWwXxXxYyZzZzZzhtwyſAaAaAaAaAaAaAaAaAaAaAaAaEeEeEeEeEeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUuYyYyYyYy') $$;

ALTER TABLE transcripts DROP COLUMN search;
ALTER TABLE transcripts ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('simple', 'u' || replace(user_id::text, '-', '')), 'D') ||
    setweight(to_tsvector('english', transcript_fold(title)), 'A') ||
    setweight(to_tsvector('english', transcript_fold(content)), 'B')
) STORED;
CREATE INDEX transcripts_search ON transcripts USING gin (search);
CREATE INDEX transcripts_user_recent ON transcripts (user_id, created_at, id);
-- The planner's statistics for the new vector, so the first searches are planned on them.
ANALYZE transcripts;
