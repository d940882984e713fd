//! Pack search (`GET /v1/packs/-/search`, NP §Registry HTTP API: "full-text search across name +
//! description + keywords, paginated"; the response shape is ours, the spec names none).
//!
//! Each pack is represented by its `latest` version as `/v1/index.json` states it (one rule for
//! `latest`, in `index`), plus that version's manifest `keywords`, which the index does not carry.
//! Matching is case-insensitive substring matching per whitespace-separated term; every term must
//! match somewhere. Ranking, per term, takes the best field: exact name > a whole name segment >
//! name or segment prefix > name contains > keyword or typeId > description; the whole query
//! equal to the name adds a bonus.
//! Deprecated (or wholly yanked) packs have their score halved: de-ranked, never hidden (RO).

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::{Registry, index};
use crate::RegistryError;

/// Default page size.
pub const DEFAULT_PER_PAGE: usize = 20;
/// Largest page size accepted.
pub const MAX_PER_PAGE: usize = 100;
/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 256;

/// A validated search request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The query text as given (trimmed).
    pub q: String,
    /// 1-based page number.
    pub page: usize,
    /// Results per page, 1..=[`MAX_PER_PAGE`].
    pub per_page: usize,
}

/// One hit.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    /// Pack name.
    pub name: String,
    /// The pack's `latest` version.
    pub latest: String,
    /// Description of the latest version.
    pub description: String,
    /// Pack kind (`node`, `workflow-chain`, …).
    pub kind: String,
    /// Every version is deprecated.
    pub deprecated: bool,
    /// Every version is yanked.
    pub yanked: bool,
    /// Relevance; higher is better. Only comparable within one response.
    pub score: u32,
}

/// A page of results.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    /// The query text searched for.
    pub query: String,
    /// Matches in total, over all pages.
    pub total: usize,
    /// This page (1-based).
    pub page: usize,
    /// Page size.
    pub per_page: usize,
    /// This page's hits, best first (ties by name).
    pub results: Vec<SearchHit>,
}

/// What a pack is searched by, lowercased.
struct Candidate {
    hit: SearchHit,
    name: String,
    description: String,
    keywords: Vec<String>,
}

const EXACT_NAME: u32 = 1000;
const NAME_SEGMENT: u32 = 600;
const NAME_PREFIX: u32 = 400;
const NAME_CONTAINS: u32 = 250;
const KEYWORD_EXACT: u32 = 150;
const KEYWORD_CONTAINS: u32 = 100;
const DESCRIPTION: u32 = 40;

/// The best score one term earns on a candidate, or `None` when it matches nothing.
fn term_score(c: &Candidate, term: &str) -> Option<u32> {
    // Name segments (`core.openwop.flow` → core, openwop, flow) make `flow` find the flow pack
    // before `core.openwop.workflows`, which merely contains it.
    let mut segments = c.name.split(['.', '-', '_']);
    let name = if c.name == term {
        EXACT_NAME
    } else if segments.clone().any(|s| s == term) {
        NAME_SEGMENT
    } else if c.name.starts_with(term) || segments.any(|s| s.starts_with(term)) {
        NAME_PREFIX
    } else if c.name.contains(term) {
        NAME_CONTAINS
    } else {
        0
    };
    let keyword = c
        .keywords
        .iter()
        .map(|k| {
            if k == term {
                KEYWORD_EXACT
            } else if k.contains(term) {
                KEYWORD_CONTAINS
            } else {
                0
            }
        })
        .max()
        .unwrap_or(0);
    let description = if c.description.contains(term) { DESCRIPTION } else { 0 };
    let best = name.max(keyword).max(description);
    (best > 0).then_some(best)
}

/// Scores a candidate against the lowercased query; `None` when some term matches nothing.
fn score(c: &Candidate, query: &str, terms: &[&str]) -> Option<u32> {
    let mut total = 0u32;
    for term in terms {
        total = total.saturating_add(term_score(c, term)?);
    }
    if terms.len() > 1 && c.name == query {
        total = total.saturating_add(EXACT_NAME);
    }
    if c.hit.deprecated || c.hit.yanked {
        total /= 2;
    }
    Some(total.max(1))
}

fn strings(value: Option<&Value>) -> impl Iterator<Item = String> + '_ {
    value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_lowercase)
}

/// Runs `query` over the registry-wide index document and the manifests of the latest versions.
pub fn search(index_doc: &Value, latest_manifests: &HashMap<String, Value>, query: &SearchQuery) -> SearchPage {
    let needle = query.q.to_lowercase();
    let terms: Vec<&str> = needle.split_whitespace().collect();
    let mut hits: Vec<SearchHit> = packs_of(index_doc)
        .filter_map(|pack| {
            let field = |k: &str| pack.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            let name = field("name");
            let latest = field("latestVersion");
            let manifest = latest_manifests.get(&name);
            let mut keywords: Vec<String> = strings(manifest.and_then(|m| m.get("keywords"))).collect();
            keywords.extend(strings(pack.get("typeIds")));
            keywords.extend(strings(pack.get("tags")));
            let description = field("description");
            let candidate = Candidate {
                name: name.to_lowercase(),
                description: description.to_lowercase(),
                keywords,
                hit: SearchHit {
                    name,
                    latest,
                    description,
                    kind: field("kind"),
                    deprecated: pack.get("deprecated").and_then(Value::as_bool).unwrap_or(false),
                    yanked: pack.get("yanked").and_then(Value::as_bool).unwrap_or(false),
                    score: 0,
                },
            };
            let s = score(&candidate, &needle, &terms)?;
            Some(SearchHit { score: s, ..candidate.hit })
        })
        .collect();
    hits.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.name.cmp(&b.name)));
    let total = hits.len();
    let start = (query.page - 1).saturating_mul(query.per_page);
    let results = hits.into_iter().skip(start).take(query.per_page).collect();
    SearchPage { query: query.q.clone(), total, page: query.page, per_page: query.per_page, results }
}

fn packs_of(index_doc: &Value) -> impl Iterator<Item = &Value> {
    index_doc.get("packs").and_then(Value::as_array).into_iter().flatten()
}

impl Registry {
    /// Searches the packs' latest versions (see the module documentation for the rules).
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, RegistryError> {
        let rows = self.visible_versions().await?;
        let index_text = index::registry_index(rows.clone(), None)?;
        let index_doc: Value = serde_json::from_str(&index_text)
            .map_err(|e| RegistryError::InvalidDocument { path: "/v1/index.json".into(), reason: e.to_string() })?;
        let latest: HashMap<&str, &str> = packs_of(&index_doc)
            .filter_map(|p| Some((p.get("name")?.as_str()?, p.get("latestVersion")?.as_str()?)))
            .collect();
        let mut manifests = HashMap::new();
        for row in rows {
            if latest.get(row.name.as_str()) == Some(&row.version.as_str()) {
                // A manifest that does not parse was already refused by the index build above.
                if let Ok(manifest) = serde_json::from_str::<Value>(&row.manifest) {
                    manifests.insert(row.name, manifest);
                }
            }
        }
        Ok(search(&index_doc, &manifests, query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Value {
        serde_json::json!({ "packs": [
            { "name": "core.openwop.flow", "latestVersion": "1.1.0", "kind": "node",
              "description": "Flow control.", "typeIds": ["core.flow.if"], "tags": [],
              "deprecated": false, "yanked": false },
            { "name": "core.openwop.flowchart", "latestVersion": "1.0.0", "kind": "node",
              "description": "Draws charts.", "typeIds": [], "tags": [], "deprecated": false, "yanked": false },
            { "name": "vendor.acme.router", "latestVersion": "2.0.0", "kind": "node",
              "description": "Routes by flow rules.", "typeIds": [], "tags": [], "deprecated": false, "yanked": false },
            { "name": "vendor.acme.old-flow", "latestVersion": "0.1.0", "kind": "node",
              "description": "Old.", "typeIds": [], "tags": [], "deprecated": true, "yanked": false },
            { "name": "vendor.acme.tagged", "latestVersion": "0.2.0", "kind": "prompt",
              "description": "Nothing here.", "typeIds": [], "tags": [], "deprecated": false, "yanked": false },
        ]})
    }

    fn run(q: &str, page: usize, per_page: usize) -> SearchPage {
        let mut manifests = HashMap::new();
        manifests.insert("vendor.acme.tagged".to_string(), serde_json::json!({ "keywords": ["FLOW"] }));
        search(&index(), &manifests, &SearchQuery { q: q.into(), page, per_page })
    }

    #[test]
    fn ranks_name_over_keyword_over_description_and_deranks_deprecated() {
        let page = run("Flow", 1, 20);
        let names: Vec<&str> = page.results.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "core.openwop.flow",      // a whole name segment
                "core.openwop.flowchart", // a name segment's prefix
                "vendor.acme.old-flow",   // a whole name segment, but deprecated: halved
                "vendor.acme.tagged",     // exact keyword
                "vendor.acme.router",     // description only
            ]
        );
        assert_eq!(page.total, 5);
        assert!(page.results.iter().any(|h| h.deprecated), "deprecated packs are never hidden");
    }

    #[test]
    fn exact_name_wins_and_all_terms_must_match() {
        let page = run("core.openwop.flowchart", 1, 20);
        assert_eq!(page.results[0].name, "core.openwop.flowchart");
        assert_eq!(page.results[0].score, EXACT_NAME);
        assert_eq!(run("flow charts", 1, 20).results.len(), 1);
        assert_eq!(run("zzz", 1, 20).total, 0);
    }

    #[test]
    fn pages() {
        let second = run("flow", 2, 2);
        assert_eq!((second.total, second.page, second.per_page, second.results.len()), (5, 2, 2, 2));
        assert_eq!(second.results[0].name, "vendor.acme.old-flow");
        assert!(run("flow", 9, 2).results.is_empty());
    }
}
