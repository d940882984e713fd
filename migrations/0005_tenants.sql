-- Tenants: each has its own view of the registry (allowed upstream packs, denied packs or
-- versions, a publish-age cooldown, advisory blocks) and its own private namespace
-- `private.<tenant>.*`, owned by construction (no owner column). Portable between SQLite and
-- PostgreSQL (TEXT and BIGINT only).

CREATE TABLE tenants (
    name        TEXT PRIMARY KEY,
    -- JSON object: {"allow": [...], "deny": [...], "minPublishAgeSecs": N, "blockAdvisories": bool}.
    config      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- The tenant a token acts for; NULL for operator (and public) tokens.
ALTER TABLE tokens ADD COLUMN tenant TEXT;
