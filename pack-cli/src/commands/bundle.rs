//! `pack bundle`: verify everything a lockfile locks and write it as an air-gap bundle.

use serde_json::json;

use crate::bundle::{BundleOptions, create};
use crate::cli::BundleArgs;
use crate::config::Config;
use crate::error::CliResult;
use crate::install::cache::default_cache_dir;
use crate::output::{Outcome, Shell};

/// `pack bundle --lockfile pack-lock.json -o bundle.tar [--offline]`.
pub fn exec(args: &BundleArgs, shell: &Shell) -> CliResult<Outcome> {
    let config = Config::load()?;
    let options = BundleOptions {
        lockfile: args.lockfile.clone(),
        output: args.output.clone(),
        offline: args.offline,
        cache_dir: args.cache_dir.clone().unwrap_or_else(default_cache_dir),
        jobs: args.jobs,
    };
    shell.status(
        "Bundling",
        &format!("{} ({})", args.lockfile.display(), if args.offline { "from the cache" } else { "online" }),
    );
    let summary = create(&config, &options)?;
    let n = summary.packs;
    Ok(Outcome::new(
        "bundle",
        json!({
            "output": summary.output.display().to_string(),
            "packs": n,
            "registries": summary.registries,
            "bytes": summary.bytes,
            "sha256": summary.sha256,
        }),
        vec![
            format!(
                "wrote {} ({n} pack{} from {} registr{}, {} bytes)",
                summary.output.display(),
                if n == 1 { "" } else { "s" },
                summary.registries.len(),
                if summary.registries.len() == 1 { "y" } else { "ies" },
                summary.bytes
            ),
            format!("sha256 {}", summary.sha256),
        ],
    ))
}
