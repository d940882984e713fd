-- The write API: tokens, namespace reservations, lifecycle, advisories, audit, statements.
-- Portable between SQLite and PostgreSQL (TEXT and BIGINT only; ids are random text).

-- The registry statement (decisions §9) of a version, when the registry signs one.
ALTER TABLE versions ADD COLUMN statement_blob TEXT;

-- API tokens. Only a SHA-256 of the secret is stored; the secret is shown once at creation.
CREATE TABLE tokens (
    token_id     TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL,
    principal    TEXT NOT NULL,
    -- JSON arrays: namespace globs (`vendor.acme.*`) and scopes (`packs:publish`, …).
    namespaces   TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT
);

-- `vendor.<org>` and `community.<author>` belong to whoever published there first.
CREATE TABLE namespace_owners (
    namespace    TEXT PRIMARY KEY,
    principal    TEXT NOT NULL,
    reserved_at  TEXT NOT NULL
);

-- Versions taken back within the unpublish window; they can never be published again.
CREATE TABLE unpublished (
    name            TEXT NOT NULL,
    version         TEXT NOT NULL,
    integrity       TEXT NOT NULL,
    unpublished_at  TEXT NOT NULL,
    PRIMARY KEY (name, version)
);

-- Security advisories served in /security/advisories.json (body is the advisory object).
CREATE TABLE advisories (
    advisory_id  TEXT PRIMARY KEY,
    body         TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

-- Every write: who, what, when.
CREATE TABLE audit (
    event_id   TEXT PRIMARY KEY,
    at         TEXT NOT NULL,
    principal  TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    details    TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at);
