//! registry-server integration tests. Every test runs on each storage stack: SQLite + a local
//! directory always, and PostgreSQL + S3 when `OPENWOP_TEST_DATABASE_URL` and
//! `OPENWOP_TEST_S3_ENDPOINT` are set (required when `OPENWOP_REQUIRE_SERVICES=1`, as under CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixture_tree;
mod http;
mod storage;
mod support;
