//! The registry HTTP client: every read endpoint a host needs (discovery, pack index, version
//! manifest, tarball, signature, statement, keychain, advisories, search) and the write API a
//! publisher or operator uses (publish, yank, deprecate, advisories).
//!
//! ```no_run
//! use pack_cli::registry::{ClientOptions, RegistryClient};
//!
//! let client = RegistryClient::new("https://packs.openwop.dev", ClientOptions::default())?;
//! let index = client.pack_index("core.openwop.flow")?;
//! # Ok::<(), pack_cli::registry::RegistryError>(())
//! ```
//!
//! Errors are [`RegistryError`]s: the server's `{"error","message","details"}` envelope with
//! its HTTP status, or `pack_registry_unreachable` when no answer arrived. GETs are retried with
//! backoff on transport errors, 5xx and 429; writes never are. The client also implements
//! [`pack_verify::registry::RegistrySource`], so `pack_verify::registry::verify_registry` and
//! `resolve_trust` can read a live registry through it.

mod client;
mod error;

pub use client::{ClientOptions, PublishResponse, RegistryClient, encode};
pub use error::{RegistryError, UNREACHABLE};
