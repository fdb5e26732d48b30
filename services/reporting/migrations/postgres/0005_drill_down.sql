-- Drill-down (ListGroupTasks) and task timelines (GetTaskTimeline).

-- Every accepted change of each task, as the change log carried it, for its
-- timeline. Times are microseconds since the epoch (UTC), dates yyyymmdd.
CREATE TABLE rpt_timeline (
    task_id TEXT NOT NULL,
    cursor BIGINT NOT NULL,
    update_id TEXT NOT NULL,
    kind BIGINT NOT NULL,
    effective_time_us BIGINT NOT NULL,
    effective_date BIGINT NOT NULL,
    record_time_us BIGINT NOT NULL,
    -- CREATED: the first deadline; DEADLINE_CHANGED: the new one.
    deadline BIGINT,
    note TEXT NOT NULL,
    -- CREATED: the assignee; REASSIGNED: the new holder.
    assignee_unit_id TEXT NOT NULL,
    PRIMARY KEY (task_id, cursor)
);

-- The unit that assigned each task (from its creation).
CREATE TABLE rpt_task_origins (
    task_id TEXT PRIMARY KEY,
    assigning_unit_id TEXT NOT NULL
);

-- A group's tasks: a unit's segments by assigned date.
CREATE INDEX rpt_segments_by_unit ON rpt_segments (assignee_unit_id, assigned_date);

-- What the two tables above hold for tasks already applied exists only in
-- the change log: the read model is rebuilt from its start (it is derived
-- data; the follower replays the log from cursor 0). Notes and the audit
-- log are not derived and stay.
DELETE FROM rpt_segments;
DELETE FROM rpt_task_events;
DELETE FROM rpt_task_assignees;
DELETE FROM rpt_task_plans;
DELETE FROM rpt_tasks;
DELETE FROM rpt_plans;
UPDATE sync_state SET applied_cursor = 0, last_applied_time_us = NULL WHERE id = 1;
