//! End-to-end tests of the three binaries together live in `e2e/`; this crate has no code of its
//! own.
