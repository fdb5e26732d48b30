-- Reorganisations and the lineage they leave between units.
--
-- A reorganisation is one effective-dated change set (docs/reorganisations.md):
-- its predecessors end the day before effective_date, its successors begin
-- on it. payload is the encoded tasknet.v1.Reorganisation as applied (ids,
-- dates and successors filled in), so it can be shown again exactly.
CREATE TABLE reorganisations (
    id             TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL UNIQUE,
    effective_date BIGINT NOT NULL,
    apply_time_us  BIGINT NOT NULL,
    payload        BLOB NOT NULL
);

-- One row per (predecessor, successor) pair; successor_id is NULL for a
-- dissolved unit. is_primary marks the successor that takes over the
-- predecessor's open tasks and its figures in reports on the current
-- structure (1 or 0).
CREATE TABLE unit_lineage (
    predecessor_id    TEXT NOT NULL REFERENCES units (id),
    successor_id      TEXT NULL REFERENCES units (id),
    effective_date    BIGINT NOT NULL,
    kind              BIGINT NOT NULL,
    reorganisation_id TEXT NOT NULL REFERENCES reorganisations (id),
    is_primary        BIGINT NOT NULL,
    UNIQUE (predecessor_id, successor_id)
);
CREATE INDEX unit_lineage_successor ON unit_lineage (successor_id, predecessor_id);
CREATE INDEX unit_lineage_reorganisation ON unit_lineage (reorganisation_id);
