//! Pack metadata and artifacts:
//! `/v1/index.json`, `/v1/packs/{name}`, `/v1/packs/{name}/index.json` and
//! `/v1/packs/{name}/-/{version}.json|.tgz|.sig|.sbom.json|.statement.json`.

use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;

use super::auth::Viewed;
use super::error::ApiError;
use super::response;
use super::segments::Segments;

/// `GET /v1/index.json`.
pub async fn registry_index(Viewed(registry): Viewed, headers: HeaderMap) -> Result<Response, ApiError> {
    let doc = registry.registry_index_doc().await?;
    Ok(response::document(&headers, &doc))
}

/// `GET /v1/packs/{name}` and `/v1/packs/{name}/index.json` (identical bodies).
pub async fn pack_index(
    Viewed(registry): Viewed,
    Segments(name): Segments<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut found = registry.pack_index_doc(&name).await?;
    // Mirror mode: a miss is pulled through from the upstream (bounded in time).
    if found.is_none() && registry.view().may_see_name(&name) && crate::mirror::on_miss(&registry, &name, None).await? {
        found = registry.pack_index_doc(&name).await?;
    }
    match found {
        Some(doc) => Ok(response::document(&headers, &doc)),
        None => Err(ApiError::not_found("not_found", format!("no pack named `{name}` in this registry"))),
    }
}

/// Which artifact of a version a file name asks for.
enum VersionFile<'a> {
    Manifest(&'a str),
    Tarball(&'a str),
    Signature(&'a str),
    Sbom(&'a str),
    Statement(&'a str),
}

fn parse_file(file: &str) -> Option<VersionFile<'_>> {
    // `.sbom.json` before `.json`: both end in `.json`.
    if let Some(v) = file.strip_suffix(".sbom.json") {
        Some(VersionFile::Sbom(v))
    } else if let Some(v) = file.strip_suffix(".statement.json") {
        Some(VersionFile::Statement(v))
    } else if let Some(v) = file.strip_suffix(".json") {
        Some(VersionFile::Manifest(v))
    } else if let Some(v) = file.strip_suffix(".tgz") {
        Some(VersionFile::Tarball(v))
    } else {
        file.strip_suffix(".sig").map(VersionFile::Signature)
    }
}

/// `GET /v1/packs/{name}/-/{version}.{json,tgz,sig,sbom.json}`.
pub async fn version_file(
    Viewed(registry): Viewed,
    Segments((name, file)): Segments<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(kind) = parse_file(&file) else {
        return Err(ApiError::not_found("not_found", format!("No file at /v1/packs/{name}/-/{file}")));
    };
    let version = match kind {
        VersionFile::Manifest(v)
        | VersionFile::Tarball(v)
        | VersionFile::Signature(v)
        | VersionFile::Sbom(v)
        | VersionFile::Statement(v) => v,
    };
    let mut found = registry.version_doc(&name, version).await?;
    // Mirror mode: a miss is pulled through from the upstream (bounded in time).
    if found.is_none()
        && registry.view().may_see_name(&name)
        && crate::mirror::on_miss(&registry, &name, Some(version)).await?
    {
        found = registry.version_doc(&name, version).await?;
    }
    let Some(doc) = found else {
        return Err(ApiError::not_found(
            "pack_version_not_found",
            format!("{name}@{version} is not in this registry; see /v1/packs/{name} for its versions"),
        ));
    };
    let Some(row) = &doc.row else {
        return Err(ApiError::not_found("pack_version_not_found", format!("{name}@{version} is not in this registry")));
    };
    Ok(match kind {
        VersionFile::Manifest(_) => response::document(&headers, &doc),
        VersionFile::Tarball(_) => {
            let body = registry.blob(&row.tarball_blob).await?;
            // The spec's ETag for a tarball is its integrity value (formatted once per entry).
            response::blob(&headers, body, &response::TGZ_VALUE, doc.tarball_etag())
        }
        VersionFile::Signature(_) => {
            let body = registry.blob(&row.signature_blob).await?;
            let etag = doc.signature_etag(&body);
            response::blob(&headers, body, &response::OCTET_VALUE, etag)
        }
        VersionFile::Statement(_) => {
            let Some(key) = &row.statement_blob else {
                return Err(ApiError::not_found("not_found", format!("{name}@{version} has no registry statement")));
            };
            let body: Bytes = registry.blob(key).await?;
            let etag = response::etag_of(&body);
            response::artifact(&headers, body, response::CONTENT_JSON, response::CACHE_IMMUTABLE, etag)
        }
        VersionFile::Sbom(_) => {
            let Some(key) = &row.sbom_blob else {
                return Err(ApiError::not_found("not_found", format!("{name}@{version} has no SBOM")));
            };
            let body: Bytes = registry.blob(key).await?;
            response::json_document(&headers, body)
        }
    })
}
