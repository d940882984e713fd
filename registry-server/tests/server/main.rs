//! registry-server integration tests. Every test runs on each storage stack: SQLite + a local
//! directory always, and PostgreSQL + S3 when `OPENWOP_TEST_DATABASE_URL` and
//! `OPENWOP_TEST_S3_ENDPOINT` are set (required when `OPENWOP_REQUIRE_SERVICES=1`, as under CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cache;
mod crash;
mod fixture_tree;
mod http;
mod load;
mod mirror;
mod operations;
mod outage;
mod publish;
mod storage;
mod support;
mod tenants;
mod world;
// Read-side extras (schema mirror, search, aggregate SBOM, export, HTML catalog).
mod catalog;
mod export;
mod sbom;
mod schemas;
mod search;
mod seed;
