-- The office's tasks as the centre last told them: what `tasknet agent run`
-- reads from WatchUnitTasks, stored with the cursor to resume from, so that
-- staff can list and work their tasks offline.

-- How far the feed was followed, and what it last ran into.
CREATE TABLE feed_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- The cursor of the last change stored (0: nothing yet).
    cursor INTEGER NOT NULL DEFAULT 0,
    last_change_us INTEGER,
    last_error TEXT,
    last_error_us INTEGER
);
INSERT INTO feed_state (id) VALUES (1);

-- Every change of the office's tasks the feed delivered, in cursor order:
-- the history the agent folds the office's pending updates onto.
CREATE TABLE task_events (
    cursor INTEGER PRIMARY KEY,
    task_id TEXT NOT NULL,
    update_id TEXT NOT NULL,
    -- The encoded tasknet.v1.TaskEvent.
    event BLOB NOT NULL
);
CREATE INDEX task_events_task ON task_events (task_id, cursor);
CREATE INDEX task_events_update ON task_events (update_id);

-- Each task's state as the centre last folded it (the Task of its newest change).
CREATE TABLE local_tasks (
    task_id TEXT PRIMARY KEY,
    -- The change this state came with.
    cursor INTEGER NOT NULL,
    -- The encoded tasknet.v1.Task.
    task BLOB NOT NULL,
    -- 1 while the office holds it; 0 once a reorganisation passed it on.
    held INTEGER NOT NULL
);
