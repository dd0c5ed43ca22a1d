-- Daily usage rollups, so a quota check sums at most a month of days, not every event.
-- `day` is the UTC midnight starting the day.

CREATE TABLE usage_daily (
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day               timestamptz NOT NULL,
    messages          bigint NOT NULL DEFAULT 0,
    prompt_tokens     bigint NOT NULL DEFAULT 0,
    completion_tokens bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);

INSERT INTO usage_daily (user_id, day, messages, prompt_tokens, completion_tokens)
SELECT user_id, date_trunc('day', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', SUM(messages),
       SUM(prompt_tokens), SUM(completion_tokens)
FROM usage_events GROUP BY 1, 2;
