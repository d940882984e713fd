-- Registry metadata. Portable between SQLite and PostgreSQL: the server talks to both through
-- sqlx's Any driver, so columns use TEXT and BIGINT only (booleans are 0/1, times RFC 3339 text).

-- One row per pack name; created by the first version published or imported under it.
CREATE TABLE packs (
    name        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

-- One row per published version. A version becomes visible in a single transaction, after every
-- blob it names is already in object storage.
CREATE TABLE versions (
    name            TEXT NOT NULL REFERENCES packs(name),
    version         TEXT NOT NULL,
    -- Precedence keys so SQL can order versions without parsing semver.
    major           BIGINT NOT NULL,
    minor           BIGINT NOT NULL,
    patch           BIGINT NOT NULL,
    prerelease      TEXT NOT NULL,
    -- The served version manifest, exactly as stored (`/v1/packs/{name}/-/{version}.json`).
    manifest        TEXT NOT NULL,
    integrity       TEXT NOT NULL,
    signing_method  TEXT NOT NULL,
    signing_key_id  TEXT NOT NULL,
    published_at    TEXT NOT NULL,
    yanked          BIGINT NOT NULL,
    deprecated      BIGINT NOT NULL,
    -- Object-store keys (content addressed): tarball, detached signature, optional SBOM.
    tarball_blob    TEXT NOT NULL,
    tarball_size    BIGINT NOT NULL,
    signature_blob  TEXT NOT NULL,
    sbom_blob       TEXT,
    PRIMARY KEY (name, version)
);

-- Public keys served at /keys/{keyId}.pub, byte for byte.
CREATE TABLE keys (
    key_id      TEXT PRIMARY KEY,
    pem         TEXT NOT NULL
);

-- Registry-level documents kept verbatim (the discovery document, the advisory feed) and
-- settings such as the registry index's `generatedAt`.
CREATE TABLE documents (
    doc_key     TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
