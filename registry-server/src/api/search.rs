//! `GET /v1/packs/-/search?q=<text>&page=<n>&perPage=<n>` (rules in [`crate::registry::search`]).
//!
//! Parameters: `q` (required, 1–256 characters after trimming; whitespace-separated terms that
//! must all match), `page` (1-based, default 1), `perPage` (1–100, default 20). Unknown
//! parameters are ignored. A bad value is a 400 `invalid_body` (the contract's code for a
//! malformed request; it names none for query strings) with `details.parameter` set.

use std::collections::HashMap;

use axum::extract::Query;
use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::Viewed;
use super::error::ApiError;
use super::response;
use crate::registry::index::to_json_document;
use crate::registry::search::{DEFAULT_PER_PAGE, MAX_PER_PAGE, MAX_QUERY_CHARS, SearchQuery};

/// Search results are eventually consistent within a minute (RO §Search); cache no longer.
pub const CACHE_SEARCH: &str = "public, max-age=60, must-revalidate";

fn number(params: &HashMap<String, String>, key: &str, default: usize, max: usize) -> Result<usize, ApiError> {
    let Some(raw) = params.get(key) else { return Ok(default) };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid_parameter(
            key,
            format!("`{key}` must be a whole number from 1 to {max}; got `{raw}`"),
        )),
    }
}

/// Validates the query string into a [`SearchQuery`].
pub fn parse(params: &HashMap<String, String>) -> Result<SearchQuery, ApiError> {
    let q = params.get("q").map(|q| q.trim()).unwrap_or_default();
    if q.is_empty() {
        return Err(ApiError::invalid_parameter("q", "`q` is required: the text to search for, e.g. ?q=flow".into()));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid_parameter("q", format!("`q` is longer than {MAX_QUERY_CHARS} characters")));
    }
    // Pages past any plausible result count are refused rather than computed.
    let page = number(params, "page", 1, 100_000)?;
    let per_page = number(params, "perPage", DEFAULT_PER_PAGE, MAX_PER_PAGE)?;
    Ok(SearchQuery { q: q.to_string(), page, per_page })
}

/// The search endpoint.
pub async fn search(
    Viewed(registry): Viewed,
    params: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Query(params) = params
        .map_err(|e| ApiError::invalid_parameter("", format!("the query string does not parse: {}", e.body_text())))?;
    let query = parse(&params)?;
    let page = registry.search(&query).await?;
    let body = to_json_document(&page);
    let etag = response::etag_of(body.as_bytes());
    Ok(response::artifact(&headers, body.into(), response::CONTENT_JSON, CACHE_SEARCH, etag))
}
