//! Integration tests for pack-verify: the real fixture registry, tampered copies of it, hostile
//! tarballs, and the keychain trust chain.

mod support;

mod canonical_fixtures;
#[cfg(feature = "cli")]
mod cli;
mod fixture_registry;
mod hostile_tar;
mod keychain_chain;
mod properties;
mod signature_diagnosis;
