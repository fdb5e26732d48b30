-- The notification outbox: every decision, written before it is sent,
-- keyed by an id derived from (subject, rule, days, recipient, day) so a
-- decision made twice is stored once. Times are microseconds since the
-- epoch, days yyyymmdd integers.
CREATE TABLE ntf_outbox (
    id TEXT PRIMARY KEY NOT NULL,
    rule BIGINT NOT NULL,
    days BIGINT NOT NULL,
    task_id TEXT NOT NULL,
    unit_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    channel BIGINT NOT NULL,
    recipient TEXT NOT NULL,
    language BIGINT NOT NULL,
    -- What the message says (tasks, names), fixed when decided.
    payload TEXT NOT NULL,
    -- Local (UTC+7) minutes of the recipient's quiet hours, or NULL.
    quiet_start BIGINT,
    quiet_end BIGINT,
    state BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    create_time_us BIGINT NOT NULL,
    next_attempt_us BIGINT NOT NULL,
    sent_time_us BIGINT,
    last_error TEXT NOT NULL DEFAULT '',
    lease_owner TEXT,
    lease_until_us BIGINT
);
CREATE INDEX ntf_outbox_due ON ntf_outbox (state, next_attempt_us);
CREATE INDEX ntf_outbox_day ON ntf_outbox (day, unit_id);

-- The days judged (by the calendar or JudgeDay), with the reporting cursor read.
CREATE TABLE ntf_judged_days (
    day BIGINT PRIMARY KEY NOT NULL,
    judged_time_us BIGINT NOT NULL,
    cursor BIGINT NOT NULL
);

-- Webhook subscribers; `secret` signs each delivery.
CREATE TABLE ntf_webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    url TEXT NOT NULL,
    -- Space-separated unit ids; empty for every unit.
    unit_ids TEXT NOT NULL,
    label TEXT NOT NULL,
    language BIGINT NOT NULL,
    secret TEXT NOT NULL,
    create_time_us BIGINT NOT NULL
);
