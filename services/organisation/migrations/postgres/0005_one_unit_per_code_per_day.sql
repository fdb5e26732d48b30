-- "One unit per code per day", checked by PostgreSQL itself: no two units
-- with the same code may have overlapping validity intervals (codes are
-- reused over time: 52 was Bình Định until 30 June 2025 and is the merged
-- Gia Lai after). The service checks it first and says which unit holds the
-- code; this constraint is what keeps the rule for any writer. btree_gist
-- gives text equality a GiST operator class (a trusted extension: whoever
-- may create the service's schema may create it).
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- Stored yyyymmdd as a date; NULL stays NULL (an unbounded end). make_date
-- is immutable, so an index expression may use it.
CREATE FUNCTION civil_date(stored BIGINT) RETURNS date
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN make_date((stored / 10000)::int, (stored / 100 % 100)::int, (stored % 100)::int);

ALTER TABLE units ADD CONSTRAINT units_one_per_code_per_day EXCLUDE USING gist (
    code WITH =,
    daterange(civil_date(valid_from), civil_date(valid_to), '[]') WITH &&
);
