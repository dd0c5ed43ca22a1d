-- Daily usage rollups, so a quota check sums at most a month of days, not every event.
-- `day` is the UTC midnight starting the day, in Unix ms.

CREATE TABLE usage_daily (
    user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day               INTEGER NOT NULL,
    messages          INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);

INSERT INTO usage_daily (user_id, day, messages, prompt_tokens, completion_tokens)
SELECT user_id, (at / 86400000) * 86400000, SUM(messages), SUM(prompt_tokens),
       SUM(completion_tokens)
FROM usage_events GROUP BY user_id, (at / 86400000) * 86400000;
