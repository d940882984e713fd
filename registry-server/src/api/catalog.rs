//! The browsable catalog: server-rendered HTML, no JavaScript.
//!
//! - `GET /` (and `/index.html`, the reference tree's landing page paths): every pack with its
//!   latest version, kind, description and deprecated/yanked marks; `?q=` filters through the
//!   same search as `/v1/packs/-/search` (first 100 hits).
//! - `GET /-/catalog/{name}`: one pack, its versions with yanked/deprecated marks (and their
//!   reasons), signing method, signer key id, integrity and links to every artifact.
//!
//! Why `/-/catalog/…`: `-` can never be a pack name (names start with a scope such as `core.`),
//! so the path cannot collide with the schema mirror `/{name}/{version}/{file}`, and nothing
//! under `/v1/`, `/keys/`, `/security/` or `/.well-known/` is taken by HTML.
//!
//! Every string that comes from a pack or the registry's documents goes through [`escape`]
//! before it reaches the page, and links are emitted only for `http(s)` URLs. A strict
//! Content-Security-Policy (no scripts at all) backs that up.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use pack_verify::manifest::Lifecycle;
use serde_json::Value;

use super::auth::Viewed;
use super::error::ApiError;
use super::response;
use super::segments::Segments;
use crate::registry::search::{MAX_PER_PAGE, SearchHit, SearchQuery};
use crate::{Registry, RegistryError};

/// HTML pages.
pub const CONTENT_HTML: &str = "text/html; charset=utf-8";
/// No scripts, no frames, no remote anything: the pages are text, tables and links.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; \
                       frame-ancestors 'none'";

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An escaped link when `url` is an absolute http(s) URL, otherwise the escaped text: a pack's
/// `homepage` of `javascript:…` must never become a link.
fn external_link(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        format!("<a href=\"{0}\" rel=\"nofollow noopener\">{0}</a>", escape(url))
    } else {
        escape(url)
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;\
color:#222}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;\
border-bottom:1px solid #ddd;vertical-align:top}code{font-size:.85em;word-break:break-all}\
.mark{display:inline-block;font-size:.75em;padding:0 .4em;border-radius:.3em;margin-left:.3em}\
.deprecated{background:#fde8b0}.yanked{background:#f6c4c4}.muted{color:#666}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

fn marks(deprecated: bool, yanked: bool) -> String {
    let mut out = String::new();
    if deprecated {
        out.push_str("<span class=\"mark deprecated\">deprecated</span>");
    }
    if yanked {
        out.push_str("<span class=\"mark yanked\">yanked</span>");
    }
    out
}

/// The catalog's front page over `packs` (already filtered and ordered).
pub fn render_home(registry_name: &str, packs: &[SearchHit], query: Option<&str>, total: usize) -> String {
    let mut body = format!("<h1>{}</h1>\n", escape(registry_name));
    let _ = writeln!(
        body,
        "<form action=\"/\" method=\"get\"><label>Search packs <input type=\"search\" name=\"q\" value=\"{}\">\
         </label> <button type=\"submit\">Search</button></form>",
        escape(query.unwrap_or_default())
    );
    let _ = match query {
        Some(q) if total == 1 => writeln!(body, "<p class=\"muted\">1 pack matches “{}”.</p>", escape(q)),
        Some(q) => writeln!(body, "<p class=\"muted\">{total} packs match “{}”.</p>", escape(q)),
        None => writeln!(body, "<p class=\"muted\">{total} packs.</p>"),
    };
    body.push_str(
        "<table id=\"packs\">\n<thead><tr><th>Pack</th><th>Latest</th><th>Kind</th><th>Description</th></tr></thead>\n\
         <tbody>\n",
    );
    for p in packs {
        let _ = writeln!(
            body,
            "<tr><td><a href=\"/-/catalog/{name}\">{name}</a>{marks}</td><td>{latest}</td><td>{kind}</td>\
             <td>{description}</td></tr>",
            name = escape(&p.name),
            marks = marks(p.deprecated, p.yanked),
            latest = escape(&p.latest),
            kind = escape(&p.kind),
            description = escape(&p.description),
        );
    }
    body.push_str(
        "</tbody>\n</table>\n<p class=\"muted\">Machine-readable: <a href=\"/v1/index.json\">/v1/index.json</a>, \
                   <a href=\"/.well-known/openwop-registry\">discovery</a>, <a href=\"/v1/sbom.json\">SBOM</a>, \
                   <a href=\"/security/advisories.json\">advisories</a>.</p>\n",
    );
    page(registry_name, &body)
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn flag(value: &Value, key: &str) -> bool {
    value.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// One pack's page, from its `/v1/packs/{name}` document and its served version manifests
/// (keyed by version; they carry the yank and deprecation reasons the index does not).
pub fn render_pack(pack: &Value, manifests: &HashMap<String, Value>) -> String {
    let name = text(pack, "name");
    let mut body = format!(
        "<p><a href=\"/\">All packs</a></p>\n<h1>{}{}</h1>\n<p>{}</p>\n<dl>\n",
        escape(name),
        marks(flag(pack, "deprecated"), false),
        escape(text(pack, "description"))
    );
    for (label, key) in [("Latest", "latest"), ("Kind", "kind"), ("Author", "author"), ("License", "license")] {
        let _ = writeln!(body, "<dt>{label}</dt><dd>{}</dd>", escape(text(pack, key)));
    }
    for (label, key) in [("Homepage", "homepage"), ("Repository", "repository")] {
        if let Some(url) = pack.get(key).and_then(Value::as_str) {
            let _ = writeln!(body, "<dt>{label}</dt><dd>{}</dd>", external_link(url));
        }
    }
    let type_ids: Vec<String> = pack
        .get("typeIds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|t| format!("<code>{}</code>", escape(t)))
        .collect();
    if !type_ids.is_empty() {
        let _ = writeln!(body, "<dt>Type ids</dt><dd>{}</dd>", type_ids.join(" "));
    }
    body.push_str(
        "</dl>\n<h2>Versions</h2>\n<table id=\"versions\">\n<thead><tr><th>Version</th><th>Published</th>\
         <th>Signed by</th><th>Integrity</th><th>Files</th></tr></thead>\n<tbody>\n",
    );
    // Newest first for people; the JSON index keeps ascending order for machines.
    let versions: Vec<&Value> = pack.get("versions").and_then(Value::as_array).into_iter().flatten().rev().collect();
    for v in versions {
        let version = text(v, "version");
        let manifest = manifests.get(version);
        let lifecycle = manifest.map(Lifecycle::from_value).unwrap_or_default();
        let deprecation = lifecycle.deprecation.unwrap_or_default();
        let mut notes = String::new();
        for (reason, label) in [
            (deprecation.reason, "Deprecated"),
            (lifecycle.yanked_reason, "Yanked"),
            (deprecation.superseded_by, "Use"),
        ] {
            if let Some(r) = reason.filter(|r| !r.is_empty()) {
                let _ = write!(notes, "<br><span class=\"muted\">{label}: {}</span>", escape(&r));
            }
        }
        let base = format!("/v1/packs/{}/-/{}", escape(name), escape(version));
        let _ = writeln!(
            body,
            "<tr class=\"version\"><td>{version}{marks}{notes}</td><td>{published}</td>\
             <td><code>{key}</code> <span class=\"muted\">({method})</span></td><td><code>{integrity}</code></td>\
             <td><a href=\"{base}.json\">manifest</a> <a href=\"{base}.tgz\">tarball</a> <a href=\"{base}.sig\">sig</a> \
             <a href=\"{base}.sbom.json\">sbom</a></td></tr>",
            version = escape(version),
            marks = marks(flag(v, "deprecated"), flag(v, "yanked")),
            published = escape(text(v, "publishedAt")),
            key = escape(text(v, "signingKeyId")),
            method = escape(text(v, "signingMethod")),
            integrity = escape(text(v, "integrity")),
        );
    }
    body.push_str("</tbody>\n</table>\n");
    let _ = writeln!(body, "<p class=\"muted\">JSON: <a href=\"/v1/packs/{0}\">/v1/packs/{0}</a></p>", escape(name));
    page(name, &body)
}

fn parse(path: &str, text: &str) -> Result<Value, RegistryError> {
    serde_json::from_str(text)
        .map_err(|e| RegistryError::InvalidDocument { path: path.to_string(), reason: e.to_string() })
}

/// The front page's HTML; `query` filters through the search rules.
pub async fn home_page(registry: &Registry, query: Option<&str>) -> Result<String, RegistryError> {
    let discovery = parse("discovery", &registry.discovery().await?)?;
    let registry_name = discovery.get("name").and_then(Value::as_str).unwrap_or("OpenWOP pack registry").to_string();
    let (packs, total) = match query {
        Some(q) => {
            let found = registry.search(&SearchQuery { q: q.to_string(), page: 1, per_page: MAX_PER_PAGE }).await?;
            (found.results, found.total)
        }
        None => {
            let index = parse("/v1/index.json", &registry.registry_index().await?)?;
            let packs: Vec<SearchHit> = index
                .get("packs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| SearchHit {
                    name: text(p, "name").to_string(),
                    latest: text(p, "latestVersion").to_string(),
                    description: text(p, "description").to_string(),
                    kind: text(p, "kind").to_string(),
                    deprecated: flag(p, "deprecated"),
                    yanked: flag(p, "yanked"),
                    score: 0,
                })
                .collect();
            let total = packs.len();
            (packs, total)
        }
    };
    Ok(render_home(&registry_name, &packs, query, total))
}

/// One pack's page; `None` when no such pack.
pub async fn pack_page(registry: &Registry, name: &str) -> Result<Option<String>, RegistryError> {
    let Some(index) = registry.pack_index(name).await? else { return Ok(None) };
    let index = parse(name, &index)?;
    let manifests = registry
        .storage()
        .db
        .versions_of(name)
        .await?
        .into_iter()
        .filter(|row| registry.view().admits(row))
        .filter_map(|row| Some((row.version, serde_json::from_str(&row.manifest).ok()?)))
        .collect();
    Ok(Some(render_pack(&index, &manifests)))
}

fn html(headers: &HeaderMap, body: String) -> Response {
    let etag = response::etag_of(body.as_bytes());
    let mut resp = response::artifact(headers, body.into(), CONTENT_HTML, response::CACHE_METADATA, etag);
    resp.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    resp.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

/// `GET /` and `GET /index.html`.
pub async fn home(
    Viewed(registry): Viewed,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let query = params.get("q").map(|q| q.trim()).filter(|q| !q.is_empty());
    if query.is_some() {
        // Same bounds as the JSON search (length of `q`).
        super::search::parse(&params)?;
    }
    Ok(html(&headers, home_page(&registry, query).await?))
}

/// `GET /-/catalog/{name}`.
pub async fn pack(
    Viewed(registry): Viewed,
    Segments(name): Segments<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    match pack_page(&registry, &name).await? {
        Some(body) => Ok(html(&headers, body)),
        None => Err(ApiError::not_found("not_found", format!("no pack named `{name}` in this registry"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_quotes_and_ampersands() {
        assert_eq!(escape("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(escape(r#"a "b" 'c'"#), "a &quot;b&quot; &#39;c&#39;");
        assert_eq!(escape("Tom & Jerry &amp;"), "Tom &amp; Jerry &amp;amp;");
        assert_eq!(escape("plain café"), "plain café");
    }

    #[test]
    fn only_http_urls_become_links() {
        assert!(external_link("https://example.com/?a=1&b=2").contains("href=\"https://example.com/?a=1&amp;b=2\""));
        let js = external_link("javascript:alert(1)");
        assert!(!js.contains("href"), "{js}");
        assert!(!external_link("\" onmouseover=\"x").contains('"'));
    }

    #[test]
    fn hostile_strings_never_become_markup() {
        let hostile = "<img src=x onerror=alert(1)>\"'&";
        let hit = SearchHit {
            name: "community.evil.pack".into(),
            latest: "1.0.0".into(),
            description: hostile.into(),
            kind: hostile.into(),
            deprecated: true,
            yanked: false,
            score: 0,
        };
        let html = render_home(hostile, &[hit], Some(hostile), 1);
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"));
        assert!(html.contains("class=\"mark deprecated\""));

        let pack = serde_json::json!({
            "name": "community.evil.pack", "description": hostile, "author": hostile, "license": hostile,
            "homepage": "javascript:alert(1)", "typeIds": [hostile],
            "versions": [{ "version": "1.0.0", "signingKeyId": hostile, "integrity": "sha256-x", "yanked": true }],
        });
        let manifests = HashMap::from([(
            "1.0.0".to_string(),
            serde_json::json!({ "yanked": true, "yankedReason": "</td><script>x</script>" }),
        )]);
        let html = render_pack(&pack, &manifests);
        assert!(!html.contains("<img") && !html.contains("<script") && !html.contains("href=\"javascript"), "{html}");
        assert!(html.contains("&lt;/td&gt;&lt;script&gt;x&lt;/script&gt;"));
        assert!(html.contains("class=\"mark yanked\""));
    }
}
