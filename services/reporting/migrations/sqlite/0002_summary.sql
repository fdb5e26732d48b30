-- Task titles, so a summary can list the completed key tasks by name.
ALTER TABLE rpt_tasks ADD COLUMN title TEXT NOT NULL DEFAULT '';

-- Notes statisticians attach to a period's summaries (AddReportNote).
CREATE TABLE rpt_notes (
    id TEXT PRIMARY KEY,
    period_start BIGINT NOT NULL,
    period_end BIGINT NOT NULL,
    text_vi TEXT NOT NULL,
    text_en TEXT NOT NULL,
    create_time_us BIGINT NOT NULL
);

CREATE INDEX rpt_notes_by_period ON rpt_notes (period_start, period_end);
