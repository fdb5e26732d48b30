-- The reporting read model, fed by the task service's change log.
-- Dates are yyyymmdd integers, instants microseconds since the epoch (UTC).

-- One row per task: what never changes after creation.
CREATE TABLE rpt_tasks (
    task_id TEXT PRIMARY KEY,
    assignee_unit_id TEXT NOT NULL,
    assigned_date BIGINT NOT NULL,
    initial_deadline BIGINT NOT NULL
);

-- The status-relevant updates of each task (deadline change, completion,
-- reopening), in acceptance (cursor) order; progress notes are not kept.
CREATE TABLE rpt_task_events (
    task_id TEXT NOT NULL,
    cursor BIGINT NOT NULL,
    kind BIGINT NOT NULL,
    effective_date BIGINT NOT NULL,
    new_deadline BIGINT,
    PRIMARY KEY (task_id, cursor)
);

-- Each task's timeline as spans of constant state: the segment with
-- seg_from <= D < seg_until holds at the end of day D. seg_from 0 means
-- "from the beginning", seg_until 99991231 "open-ended". The assignee and
-- assigned date are copied in so a breakdown reads this table alone.
CREATE TABLE rpt_segments (
    task_id TEXT NOT NULL,
    seg_from BIGINT NOT NULL,
    seg_until BIGINT NOT NULL,
    assignee_unit_id TEXT NOT NULL,
    assigned_date BIGINT NOT NULL,
    deadline BIGINT NOT NULL,
    completed_on BIGINT,
    PRIMARY KEY (task_id, seg_from)
);

-- Covers the breakdown query: a range scan on assigned_date, the as-of
-- predicate and the classification answered from the index alone.
CREATE INDEX rpt_segments_breakdown ON rpt_segments
    (assigned_date, seg_from, seg_until, assignee_unit_id, deadline, completed_on);

CREATE TABLE rpt_task_plans (
    plan_id TEXT NOT NULL,
    task_id TEXT NOT NULL,
    PRIMARY KEY (plan_id, task_id)
);

CREATE TABLE rpt_plans (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind BIGINT NOT NULL,
    owner_unit_id TEXT NOT NULL,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    create_time_us BIGINT NOT NULL
);

CREATE INDEX rpt_plans_by_kind ON rpt_plans (kind, period_start);

-- How far the change log has been applied; written in the same transaction
-- as the changes themselves.
CREATE TABLE sync_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    applied_cursor BIGINT NOT NULL,
    last_applied_time_us BIGINT
);

INSERT INTO sync_state (id, applied_cursor, last_applied_time_us) VALUES (1, 0, NULL);
