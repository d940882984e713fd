//! `pack search`.

use serde_json::json;

use crate::cli::SearchArgs;
use crate::config::Config;
use crate::error::{CliError, CliResult};
use crate::output::{Outcome, Shell};

/// Searches the registry.
pub fn exec(args: &SearchArgs, shell: &Shell) -> CliResult<Outcome> {
    let query = args.query.join(" ");
    let client = Config::load()?.client(args.registry.registry.as_deref())?;
    shell.status("Searching", &format!("{} for `{query}`", client.base_url()));
    let page = client.search(&query, args.page, args.per_page).map_err(|e| CliError::from_registry(&e))?;
    let results = page["results"].as_array().cloned().unwrap_or_default();
    let total = page["total"].as_u64().unwrap_or(results.len() as u64);
    let width = results.iter().filter_map(|r| r["name"].as_str()).map(str::len).max().unwrap_or(0);
    let mut human: Vec<String> = results
        .iter()
        .map(|r| {
            let mut marks = String::new();
            if r["deprecated"].as_bool() == Some(true) {
                marks.push_str(" [deprecated]");
            }
            if r["yanked"].as_bool() == Some(true) {
                marks.push_str(" [yanked]");
            }
            format!(
                "{:width$}  {:10}  {}{marks}",
                r["name"].as_str().unwrap_or("?"),
                r["latest"].as_str().unwrap_or("-"),
                r["description"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let shown = results.len();
    human.push(if total == 0 {
        format!("no packs match `{query}`")
    } else {
        format!("{shown} of {total} result(s), page {} ({} per page)", args.page, args.per_page)
    });
    Ok(Outcome::new(
        "search",
        json!({
            "registry": client.base_url(),
            "query": query,
            "total": total,
            "page": args.page,
            "perPage": args.per_page,
            "results": results,
        }),
        human,
    ))
}
