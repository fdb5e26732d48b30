-- "One unit per code per day", checked by the database itself: no two units
-- with the same code may have overlapping validity intervals (codes are
-- reused over time: 52 was Bình Định until 30 June 2025 and is the merged
-- Gia Lai after). The service checks it first and says which unit holds the
-- code; these triggers keep the rule for any writer. PostgreSQL does it with
-- an exclusion constraint; SQLite has none, hence the triggers (same name in
-- the error). Intervals are [valid_from, valid_to], valid_to NULL open-ended.
CREATE TRIGGER units_one_per_code_per_day_insert
BEFORE INSERT ON units
WHEN EXISTS (
    SELECT 1 FROM units AS other
    WHERE other.code = NEW.code AND other.id <> NEW.id
      AND other.valid_from <= COALESCE(NEW.valid_to, 99991231)
      AND NEW.valid_from <= COALESCE(other.valid_to, 99991231)
)
BEGIN
    SELECT RAISE(ABORT, 'conflicting key value violates exclusion constraint "units_one_per_code_per_day"');
END;

CREATE TRIGGER units_one_per_code_per_day_update
BEFORE UPDATE OF code, valid_from, valid_to ON units
WHEN EXISTS (
    SELECT 1 FROM units AS other
    WHERE other.code = NEW.code AND other.id <> NEW.id
      AND other.valid_from <= COALESCE(NEW.valid_to, 99991231)
      AND NEW.valid_from <= COALESCE(other.valid_to, 99991231)
)
BEGIN
    SELECT RAISE(ABORT, 'conflicting key value violates exclusion constraint "units_one_per_code_per_day"');
END;
