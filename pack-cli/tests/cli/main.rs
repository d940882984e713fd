//! Integration tests of the `pack` binary: each test builds throwaway directories and runs the
//! real executable, asserting on exit codes, files and `--json` output.
#![allow(clippy::unwrap_used)]

mod build_verify;
mod config;
mod fixtures;
mod keygen;
mod publish;
mod support;
mod trust_chain;
