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
