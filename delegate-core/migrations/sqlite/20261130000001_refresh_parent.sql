-- Each rotated refresh token records the token it replaced, so a replay can tell "the
-- latest rotation, raced" (its child unused) from "a family that has moved on".
ALTER TABLE refresh_tokens ADD COLUMN parent_hash TEXT;
CREATE INDEX refresh_tokens_parent ON refresh_tokens (parent_hash);
