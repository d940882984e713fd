//! `pack install` and `pack lock`: resolve (or read the lockfile), download in parallel, verify
//! the whole chain with `pack-verify` before anything is extracted, and install atomically.
//!
//! - [`cache`]: the content-addressed download cache (offline re-installs).
//! - [`host`]: the host directory and its atomic generation swap.
//! - [`peers`]: `peerDependencies` against the host's capabilities.
//! - [`source`]: the configured registries as the resolver's package index.
//! - [`pipeline`]: lock, fetch, verify, check peers.

pub mod cache;
pub mod host;
pub mod peers;
pub mod pipeline;
pub mod source;

use crate::error::{CliError, CliResult};

/// `f` over every item on up to `jobs` workers (0: one per core) through
/// `pack_verify::parallel::map`, for the install steps that fail as a whole: results in input
/// order, and the first error in that order is the one returned. A worker that panicked becomes
/// `internal_error`, naming `what` the worker was doing.
pub(crate) fn on_workers<T: Sync, R: Send>(
    jobs: usize,
    what: &str,
    items: &[T],
    f: impl Fn(&T) -> CliResult<R> + Sync,
) -> CliResult<Vec<R>> {
    let panicked = || {
        Err(CliError::usage(
            "internal_error",
            format!("a {what} worker panicked"),
            "run again; report it if it repeats",
        ))
    };
    pack_verify::parallel::map(jobs, items, f, panicked).into_iter().collect()
}
