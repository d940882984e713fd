//! The OpenWOP pack registry service.
//!
//! Layers, from the wire inwards (a request's URL leads to its handler in [`api`]):
//!
//! - [`api`]: the axum router. One module per group of URLs; handlers only translate HTTP.
//! - [`registry`]: what the registry knows and derives: pack indexes, the registry index,
//!   discovery. Handlers and the import/export commands both go through it.
//! - [`storage`]: metadata in SQL (SQLite or PostgreSQL through sqlx) and blobs in object
//!   storage (a local directory or S3 through object_store).
//! - [`import`]: ingest a static registry tree; [`export`]: write one.
//!
//! Every check of pack bytes (integrity, the tar reader, signatures, the trust chain) lives in the
//! `pack-verify` crate and is shared with the CLI and hosts.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod export;
pub mod gc;
pub mod import;
pub mod import_bundle;
pub mod lifecycle;
pub mod mirror;
pub mod publish;
pub mod registry;
pub mod storage;
pub mod tenant;
pub mod trust;

pub use config::Config;
pub use error::RegistryError;
pub use registry::Registry;
