//! The `pack` command as a library: flags are parsed in [`cli`], each subcommand lives in
//! [`commands`], the work in [`ops`], and everything printed goes through [`output::Shell`]. The binary in `main.rs`
//! only wires these together; tests and benchmarks use the modules directly.

pub mod bundle;
pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod install;
pub mod lockfile;
pub mod ops;
pub mod output;
pub mod registry;
pub mod resolve;
