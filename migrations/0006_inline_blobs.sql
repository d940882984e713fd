-- Small documents the registry serves whole (per-version SBOMs and registry statements), kept
-- beside the metadata instead of in the object store when that is S3: written in the version
-- row's own transaction, so a publish makes two S3 round trips (tarball, signature), not four.
-- `blob_key` is what `versions.sbom_blob` / `statement_blob` hold: `db:` and the content address
-- of `body`. Rows written before this migration keep object-store keys, which still resolve
-- there. Portable between SQLite and PostgreSQL (TEXT only).
CREATE TABLE inline_blobs (
    blob_key  TEXT PRIMARY KEY,
    body      TEXT NOT NULL
);
