//! Tests of the dependency resolver and the lockfile, against an in-memory package index.
#![allow(clippy::unwrap_used)]

mod lockfile;
mod solver;
mod support;
