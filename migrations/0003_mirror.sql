-- Mirror mode: upstream registries this registry mirrors, and where each mirrored version came
-- from. Portable between SQLite and PostgreSQL (TEXT and BIGINT only; times are RFC 3339 text).

-- One row per configured upstream (by its configured name), written by every sync.
CREATE TABLE mirror_upstreams (
    name            TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    -- The start of the last sync that completed without any error or refusal.
    last_success    TEXT,
    -- The start of the last sync, successful or not.
    last_attempt    TEXT,
    -- Why the last sync was not a success (NULL after a success).
    last_error      TEXT,
    -- JSON array of the upstream's keys narrowed to what is mirrored (discovery, decisions §14).
    discovery_keys  TEXT NOT NULL,
    -- pack-verify TrustState JSON: the highest upstream keychain version seen (rollback guard).
    trust_state     TEXT
);

-- Which upstream each mirrored version was taken from, and when.
CREATE TABLE mirror_versions (
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    upstream     TEXT NOT NULL,
    mirrored_at  TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
