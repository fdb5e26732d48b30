-- Tasks, plans, the idempotency record of client updates, and the change log.
-- Dates are yyyymmdd integers, instants microseconds since the epoch (UTC),
-- enums their protobuf numbers (status: 1 open, 2 completed).

CREATE TABLE plans (
    id             TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    kind           BIGINT NOT NULL,
    owner_unit_id  TEXT NOT NULL,
    period_start   BIGINT NOT NULL,
    period_end     BIGINT NOT NULL,
    create_time_us BIGINT NOT NULL
);
CREATE INDEX plans_owner ON plans (owner_unit_id);

CREATE TABLE tasks (
    id                TEXT PRIMARY KEY NOT NULL,
    title             TEXT NOT NULL,
    assigning_unit_id TEXT NOT NULL,
    assignee_unit_id  TEXT NOT NULL,
    assigned_date     BIGINT NOT NULL,
    deadline          BIGINT NOT NULL,
    status            BIGINT NOT NULL,
    completed_on      BIGINT,
    last_note         TEXT NOT NULL,
    version           BIGINT NOT NULL,
    create_time_us    BIGINT NOT NULL,
    update_time_us    BIGINT NOT NULL
);
CREATE INDEX tasks_assignee_assigned ON tasks (assignee_unit_id, assigned_date, id);
CREATE INDEX tasks_assigned ON tasks (assigned_date, id);
CREATE INDEX tasks_status ON tasks (status, assigned_date, id);

CREATE TABLE task_plans (
    task_id TEXT NOT NULL REFERENCES tasks (id),
    plan_id TEXT NOT NULL REFERENCES plans (id),
    PRIMARY KEY (task_id, plan_id)
);
CREATE INDEX task_plans_plan ON task_plans (plan_id, task_id);

-- One row per accepted client update: a repeat with the same digest is
-- acknowledged with the recorded version and cursor, not applied again.
CREATE TABLE applied_updates (
    update_id      TEXT PRIMARY KEY NOT NULL,
    task_id        TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    version        BIGINT NOT NULL,
    cursor         BIGINT NOT NULL
);

-- Every accepted change, in commit order. payload is the encoded
-- tasknet.v1.Change without its cursor.
CREATE TABLE change_log (
    cursor         BIGSERIAL PRIMARY KEY,
    task_id        TEXT,
    update_id      TEXT,
    record_time_us BIGINT NOT NULL,
    payload        BYTEA NOT NULL
);
CREATE INDEX change_log_task ON change_log (task_id, cursor);
