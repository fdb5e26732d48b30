-- Text keys compare byte-wise ("C" collation), as SQLite compares them and as
-- the organisation schema has from the start: listings order and page the
-- same on both back ends whatever the database's default collation (the
-- official PostgreSQL image defaults to en_US.utf8, which orders ids with
-- hyphens differently), and the indexes on ids compare with memcmp instead
-- of the locale's rules. PostgreSQL rebuilds the indexes on these columns.
ALTER TABLE plans
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN owner_unit_id TYPE TEXT COLLATE "C";
ALTER TABLE tasks
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN assigning_unit_id TYPE TEXT COLLATE "C",
    ALTER COLUMN assignee_unit_id TYPE TEXT COLLATE "C";
ALTER TABLE task_plans
    ALTER COLUMN task_id TYPE TEXT COLLATE "C",
    ALTER COLUMN plan_id TYPE TEXT COLLATE "C";
ALTER TABLE applied_updates
    ALTER COLUMN update_id TYPE TEXT COLLATE "C",
    ALTER COLUMN task_id TYPE TEXT COLLATE "C";
ALTER TABLE change_log
    ALTER COLUMN task_id TYPE TEXT COLLATE "C",
    ALTER COLUMN update_id TYPE TEXT COLLATE "C";
