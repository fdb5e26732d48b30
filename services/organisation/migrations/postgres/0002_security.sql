-- Credentials: bearer tokens are never stored. A token is
-- tn_<id>_<secret>; the row keeps a random per-credential salt and
-- SHA-256(salt, secret), both hex (docs/security.md).
CREATE TABLE credentials (
    id             TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    unit_id        TEXT COLLATE "C" NOT NULL,
    role           BIGINT NOT NULL,
    label          TEXT NOT NULL,
    salt_hex       TEXT NOT NULL,
    hash_hex       TEXT NOT NULL,
    create_time_us BIGINT NOT NULL,
    expire_time_us BIGINT NULL,
    revoke_time_us BIGINT NULL,
    created_by     TEXT NOT NULL
);
CREATE INDEX credentials_unit ON credentials (unit_id, id);

-- The audit log this migration created moved to tasknet_auth's own
-- migrations (crates/auth/migrations), which every service's database gets.
