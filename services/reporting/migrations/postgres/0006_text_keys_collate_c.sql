-- Text keys compare byte-wise ("C" collation), as SQLite compares them:
-- listings order and page the same on both back ends whatever the
-- database's default collation, and the status index load's walk of
-- rpt_segments in task order compares ids with memcmp instead of the
-- locale's rules. PostgreSQL rebuilds the indexes on these columns.
ALTER TABLE rpt_tasks
    ALTER COLUMN task_id TYPE TEXT COLLATE "C",
    ALTER COLUMN assignee_unit_id TYPE TEXT COLLATE "C";
ALTER TABLE rpt_task_events
    ALTER COLUMN task_id TYPE TEXT COLLATE "C";
ALTER TABLE rpt_segments
    ALTER COLUMN task_id TYPE TEXT COLLATE "C",
    ALTER COLUMN assignee_unit_id TYPE TEXT COLLATE "C";
ALTER TABLE rpt_task_plans
    ALTER COLUMN plan_id TYPE TEXT COLLATE "C",
    ALTER COLUMN task_id TYPE TEXT COLLATE "C";
ALTER TABLE rpt_plans
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN owner_unit_id TYPE TEXT COLLATE "C";
ALTER TABLE rpt_task_assignees
    ALTER COLUMN task_id TYPE TEXT COLLATE "C",
    ALTER COLUMN assignee_unit_id TYPE TEXT COLLATE "C";
ALTER TABLE rpt_timeline
    ALTER COLUMN task_id TYPE TEXT COLLATE "C",
    ALTER COLUMN update_id TYPE TEXT COLLATE "C",
    ALTER COLUMN assignee_unit_id TYPE TEXT COLLATE "C";
ALTER TABLE rpt_task_origins
    ALTER COLUMN task_id TYPE TEXT COLLATE "C",
    ALTER COLUMN assigning_unit_id TYPE TEXT COLLATE "C";
ALTER TABLE rpt_notes
    ALTER COLUMN id TYPE TEXT COLLATE "C";
