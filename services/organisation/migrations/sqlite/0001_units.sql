-- Units of the statistics system and the socio-economic regions they belong to.
--
-- A unit's identity is its id, never its code: codes are reused over time
-- (52 was Bình Định until 30 June 2025 and is the merged Gia Lai after), so
-- a code is unique only among units whose validity intervals overlap, which
-- the service checks. Validity is [valid_from, valid_to], dates as yyyymmdd,
-- valid_to NULL while the unit exists. Reorganisation history (merges,
-- splits, renames as effective-dated events, and the lineage between
-- predecessor and successor units) is left to a later migration: it adds
-- tables that reference units(id) and changes nothing here.

CREATE TABLE regions (
    code TEXT PRIMARY KEY NOT NULL,
    name_vi TEXT NOT NULL,
    name_en TEXT NOT NULL
);

CREATE TABLE units (
    id TEXT PRIMARY KEY NOT NULL,
    category BIGINT NOT NULL,
    parent_id TEXT NULL REFERENCES units (id),
    code TEXT NOT NULL,
    name_vi TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    region_code TEXT NULL REFERENCES regions (code),
    valid_from BIGINT NOT NULL,
    valid_to BIGINT NULL,
    version BIGINT NOT NULL,
    create_time_us BIGINT NOT NULL,
    update_time_us BIGINT NOT NULL,
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);

-- Listing orders by (code, id) and pages by keyset on it; each filter has an
-- index that ends in the same order.
CREATE INDEX units_by_code ON units (code, id);
CREATE INDEX units_by_category ON units (category, code, id);
CREATE INDEX units_by_parent ON units (parent_id, code, id);
CREATE INDEX units_by_region ON units (region_code, code, id);
