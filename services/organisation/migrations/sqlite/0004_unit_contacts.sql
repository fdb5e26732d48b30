-- A unit's contacts: the people its notifications go to (docs/operations.md,
-- "Unit contacts"). Not credentials: a contact signs in to nothing.
--
-- role and language are the tasknet.v1 enum numbers (language is stored
-- resolved: never 0). Quiet hours are minutes after midnight, Vietnam time;
-- both NULL for none. opted_out is 1 or 0. Listings are ordered by
-- (unit_id, role, name, id), which the index serves.
CREATE TABLE unit_contacts (
    id                 TEXT PRIMARY KEY NOT NULL,
    unit_id            TEXT NOT NULL REFERENCES units (id),
    role               BIGINT NOT NULL,
    name               TEXT NOT NULL,
    email              TEXT NOT NULL,
    language           BIGINT NOT NULL,
    quiet_start_minute BIGINT NULL,
    quiet_end_minute   BIGINT NULL,
    opted_out          BIGINT NOT NULL,
    version            BIGINT NOT NULL,
    create_time_us     BIGINT NOT NULL,
    update_time_us     BIGINT NOT NULL
);
CREATE INDEX unit_contacts_listing ON unit_contacts (unit_id, role, name, id);
