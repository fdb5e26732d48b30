-- The audit log every service's database holds (tasknet_auth::audit reads
-- and writes it): accepted changes, written in the transaction of the
-- change, and rejected attempts. Empty text means "none". Databases of
-- releases before this set already have it, from their service's own
-- migrations; hence IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS audit_log (
    id              BIGSERIAL PRIMARY KEY,
    time_us         BIGINT NOT NULL,
    rpc             TEXT NOT NULL,
    outcome         BIGINT NOT NULL,
    credential_id   TEXT NOT NULL,
    unit_id         TEXT NOT NULL,
    role            BIGINT NOT NULL,
    peer            TEXT NOT NULL,
    target          TEXT NOT NULL,
    subject_unit_id TEXT NOT NULL,
    before_json     TEXT NOT NULL,
    after_json      TEXT NOT NULL,
    message         TEXT NOT NULL,
    suppressed      BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_time ON audit_log (time_us, id);
CREATE INDEX IF NOT EXISTS audit_log_unit ON audit_log (unit_id, id);
CREATE INDEX IF NOT EXISTS audit_log_subject ON audit_log (subject_unit_id, id);
