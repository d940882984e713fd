//! The `pack-verify` binary: exit codes and the `--json` report, over a directory and over HTTP.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::fixture_registry::copy_tree;
use crate::support::fixture_registry;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pack-verify"))
}

/// A minimal static file server on loopback for the duration of the test (no external tool).
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
            let file = root.join(&path);
            let (status, body) = match std::fs::read(&file) {
                Ok(b) if !path.contains("..") => ("200 OK", b),
                _ => ("404 Not Found", b"{\"error\":\"not_found\"}".to_vec()),
            };
            let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&body));
        }
    });
    format!("http://{addr}")
}

fn run_json(args: &[&str]) -> (i32, Value) {
    let out = bin().args(args).arg("--json").output().expect("runs");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), json)
}

#[test]
fn registry_command_over_a_directory_and_http() {
    let Some(dir) = fixture_registry("registry_command_over_a_directory_and_http") else { return };
    let (code, report) = run_json(&["registry", dir.to_str().expect("utf8 path")]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["failed"], 0);
    let verified = report["verified"].as_u64().unwrap_or(0);
    assert!(verified > 200);

    let url = serve(dir.clone());
    let (code, over_http) = run_json(&["registry", &url]);
    assert_eq!(code, 0, "{over_http}");
    assert_eq!(over_http["verified"].as_u64(), Some(verified));
}

/// Over HTTPS the walk keeps 16 requests in flight on as many connections, unless the registry
/// answers over HTTP/2: then 100 workers, each asking for a version's files at once, as streams
/// of one connection. Both verify the same versions.
#[test]
fn registry_command_keeps_more_requests_in_flight_over_http2() {
    let Some(dir) = fixture_registry("registry_command_keeps_more_requests_in_flight_over_http2") else { return };
    let mut verified = Vec::new();
    for http2 in [true, false] {
        let work = tempfile::tempdir().expect("tempdir");
        let server = openwop_test_support::serve_static_tls(
            &dir,
            &work.path().join("certs"),
            http2,
            std::time::Duration::from_millis(20),
        );
        let out =
            bin().args(["registry", &server.base, "--json"]).env("SSL_CERT_FILE", &server.ca).output().expect("runs");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        assert!(out.status.success(), "http2 {http2}: {report}\n{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(report["failed"], 0, "{report}");
        verified.push(report["verified"].as_u64().unwrap_or(0));
        let seen = |n: &std::sync::atomic::AtomicUsize| n.load(std::sync::atomic::Ordering::SeqCst);
        let stats = &server.stats;
        let (h2, h1) = (seen(&stats.http2_requests), seen(&stats.other_requests));
        let (connections, in_flight) = (seen(&stats.connections), seen(&stats.max_in_flight));
        let summary = format!("{h2} HTTP/2 and {h1} HTTP/1.1 requests, {connections} connections, {in_flight} at once");
        let sixteen = pack_verify::registry::HTTP_CONCURRENCY;
        if http2 {
            assert!(h1 == 0 && h2 > 200, "{summary}");
            assert!(connections < sixteen, "{summary}");
            assert!(in_flight > sixteen, "{summary}");
            // More than one request per worker at once: a version's files are asked for together.
            assert!(in_flight > pack_verify::registry::HTTP2_CONCURRENCY, "{summary}");
        } else {
            assert!(h2 == 0 && h1 > 200, "{summary}");
            assert!(in_flight <= sixteen, "{summary}");
        }
        eprintln!("http2 {http2}: {summary}");
    }
    assert!(verified[0] > 200 && verified[0] == verified[1], "{verified:?}");
}

#[test]
fn registry_command_fails_on_a_tampered_tree() {
    let Some(dir) = fixture_registry("registry_command_fails_on_a_tampered_tree") else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    copy_tree(&dir, tmp.path());
    let tgz = tmp.path().join("v1/packs/core.openwop.flow/-/1.0.1.tgz");
    let mut bytes = std::fs::read(&tgz).expect("read");
    bytes[100] ^= 1;
    std::fs::write(&tgz, bytes).expect("write");
    let (code, report) = run_json(&["registry", tmp.path().to_str().expect("utf8")]);
    assert_eq!(code, 1);
    assert_eq!(report["failed"], 1);
    let bad: Vec<&Value> = report["results"].as_array().expect("results").iter().filter(|r| r["ok"] == false).collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["name"], "core.openwop.flow");
    assert_eq!(bad[0]["version"], "1.0.1");
    assert_eq!(bad[0]["error"], "pack_integrity_mismatch");
}

#[test]
fn pack_command_verifies_one_version() {
    let Some(dir) = fixture_registry("pack_command_verifies_one_version") else { return };
    let base = dir.join("v1/packs/core.openwop.flow/-");
    let p = |f: &str| base.join(f).to_string_lossy().to_string();
    let (code, ok) = run_json(&["pack", &p("1.1.0.tgz"), "--sig", &p("1.1.0.sig"), "--manifest", &p("1.1.0.json")]);
    assert_eq!(code, 0, "{ok}");
    assert_eq!(ok["keyId"], "openwop-team-1");
    let (code, err) = run_json(&["pack", &p("1.1.0.tgz"), "--sig", &p("1.0.1.sig"), "--manifest", &p("1.1.0.json")]);
    assert_eq!(code, 1);
    assert_eq!(err["error"], "pack_signature_mismatch");
}

#[test]
fn usage_errors_are_explained() {
    let out = bin().args(["registry", "/nonexistent/dir"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no v1/index.json") && stderr.contains("help:"), "{stderr}");
    let out = bin().args(["registry", "."]).arg("--trust").arg(Path::new("/nonexistent.json")).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
