-- Voice: seconds of speech metered in the usage ledger (milliseconds), and user messages
-- marked by where they came from (typed, or spoken and transcribed).

ALTER TABLE usage_events
    ADD COLUMN voice_in_ms bigint NOT NULL DEFAULT 0 CHECK (voice_in_ms >= 0),
    ADD COLUMN voice_out_ms bigint NOT NULL DEFAULT 0 CHECK (voice_out_ms >= 0);
ALTER TABLE usage_daily
    ADD COLUMN voice_in_ms bigint NOT NULL DEFAULT 0,
    ADD COLUMN voice_out_ms bigint NOT NULL DEFAULT 0;
ALTER TABLE chat_messages
    ADD COLUMN source text NOT NULL DEFAULT 'text' CHECK (source IN ('text', 'voice'));
