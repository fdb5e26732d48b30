-- The provincial office agent's local store: every update the office entered,
-- in the order it entered them, and what became of each at the centre.

-- The unit this outbox belongs to, fixed when it is first opened.
CREATE TABLE agent_identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    unit_id TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);

-- seq is the office's order: a task's updates are pushed in seq order.
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    update_id TEXT NOT NULL UNIQUE,
    task_id TEXT NOT NULL,
    -- 1 create, 2 note, 3 deadline, 4 complete, 5 reopen.
    kind INTEGER NOT NULL,
    -- The encoded tasknet.v1.IngestRequest, sent byte for byte on every attempt.
    request BLOB NOT NULL,
    effective_time_us INTEGER NOT NULL,
    entered_at_us INTEGER NOT NULL,
    -- Where it came from: 'api', 'cli', or 'import:<file name>'.
    source TEXT NOT NULL,
    -- 0 pending, 1 sent (acknowledged by the centre), 2 parked (refused by
    -- the centre; later updates of the task wait behind it), 3 discarded (a
    -- parked update the office gave up on).
    state INTEGER NOT NULL DEFAULT 0,
    sent_at_us INTEGER,
    ack_version INTEGER,
    ack_cursor INTEGER,
    ack_duplicate INTEGER,
    parked_at_us INTEGER,
    error_code INTEGER,
    error_message TEXT,
    error_field TEXT
);

CREATE INDEX outbox_unsent ON outbox (seq) WHERE state IN (0, 2);
CREATE INDEX outbox_state ON outbox (state, entered_at_us);
CREATE INDEX outbox_task ON outbox (task_id, seq);

-- The office's own references for tasks it created ("CV-2024-117").
CREATE TABLE task_refs (
    reference TEXT PRIMARY KEY,
    task_id TEXT NOT NULL UNIQUE,
    created_at_us INTEGER NOT NULL
);

-- Imported files, by content digest, so a file is not imported twice by mistake.
CREATE TABLE imports (
    digest TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    rows INTEGER NOT NULL,
    imported_at_us INTEGER NOT NULL
);

-- What the pusher last achieved and last ran into.
CREATE TABLE push_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_push_us INTEGER,
    last_error TEXT,
    last_error_us INTEGER
);
INSERT INTO push_state (id) VALUES (1);
