-- Tasks passed to another unit by a reorganisation (REASSIGNED changes).
-- rpt_tasks keeps the unit a task was first assigned to; this table the
-- later holders, each from its effective date. Segments (rpt_segments) are
-- split at these dates, so each segment names the unit holding the task.
CREATE TABLE rpt_task_assignees (
    task_id TEXT NOT NULL,
    cursor BIGINT NOT NULL,
    effective_date BIGINT NOT NULL,
    assignee_unit_id TEXT NOT NULL,
    PRIMARY KEY (task_id, cursor)
);
