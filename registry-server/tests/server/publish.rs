//! The write API end to end on each stack: publish with every check, immutability, lifecycle,
//! advisories, keychain uploads, audit, garbage collection.

use pack_verify::trust::state::TrustState;
use pack_verify::trust::{ExpiryPolicy, SystemClock};
use pack_verify::verify::{Verifier, VersionInput};
use registry_server::Registry;
use registry_server::auth::Scope;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestServer, stacks};
use crate::world::{
    REGISTRY, World, key, keychain, keychain_key, pack, pack_with, pack_with_files, signed_pack, token,
};
use pack_verify::tarball::PackFile;
use registry_server::publish::MAX_ENTRY_BYTES;

struct Api {
    client: reqwest::Client,
    server: TestServer,
}

impl Api {
    async fn put(&self, name: &str, version: &str, token: Option<&str>, body: Vec<u8>) -> (StatusCode, Value) {
        let mut req = self
            .client
            .put(self.server.url(&format!("/v1/packs/{name}/-/{version}.tgz")))
            .header("content-type", "application/gzip")
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn send(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.client.request(method, self.server.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.server.url(path)).send().await.unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
        resp.json().await.unwrap()
    }
}

/// A signed pack of `name`@1.0.0 whose `runtime.entry` is `size` bytes (and whose one node names
/// a schema file the tarball lacks, so a pack that passes the entry check still fails after it).
fn with_entry(name: &str, size: usize) -> Vec<u8> {
    let entry = PackFile { path: "index.mjs".into(), data: vec![b' '; size] };
    pack_with_files(name, "1.0.0", &key(2), "acme-1", "x", vec![entry], |m| {
        m["runtime"] = json!({"language": "javascript", "entry": "./index.mjs"});
        m["nodes"] = json!([{"typeId": format!("{name}.node"), "configSchemaRef": "./schemas/missing.json"}]);
    })
}

fn code(v: &Value) -> &str {
    v["error"].as_str().unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_serve_and_lifecycle() {
    let world = World::new();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let publisher =
            token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish, Scope::Yank, Scope::YankRevert]).await;
        let yanker = token(&storage, "acme-ops", &["vendor.acme.*"], &[Scope::Yank]).await;
        let admin = token(&storage, "ops", &[], &[Scope::Admin]).await;
        let server = TestServer::start_registry(Registry::new(storage.clone()).with_trust(world.trust())).await;
        let api = Api { client: reqwest::Client::new(), server };
        let name = "vendor.acme.tools";
        let v1 = pack(name, "1.0.0", &key(2), "acme-1", "one");
        let v2 = pack(name, "1.1.0", &key(2), "acme-1", "two");

        // Authentication comes first.
        assert_eq!(api.put(name, "1.0.0", None, v1.clone()).await.0, StatusCode::UNAUTHORIZED);
        let (status, body) = api.put(name, "1.0.0", Some("owp_nope_nope"), v1.clone()).await;
        assert_eq!((status, code(&body)), (StatusCode::UNAUTHORIZED, "unauthenticated"));
        let (status, body) = api.put(name, "1.0.0", Some(&yanker), v1.clone()).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{body}");

        // First publish: 201 with the manifest; identical bytes again: 200; other bytes: 409.
        let (status, manifest) = api.put(name, "1.0.0", Some(&publisher), v1.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{:?}: {manifest}", stack.kind);
        assert_eq!(manifest["name"], name);
        assert_eq!(manifest["integrity"], pack_verify::integrity::Integrity::of(&v1).to_string());
        let (status, again) = api.put(name, "1.0.0", Some(&publisher), v1.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again, manifest);
        let other = pack(name, "1.0.0", &key(2), "acme-1", "different");
        let (status, body) = api.put(name, "1.0.0", Some(&publisher), other).await;
        assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "version_conflict"), "{body}");
        assert_eq!(api.put(name, "1.1.0", Some(&publisher), v2.clone()).await.0, StatusCode::CREATED);

        // Served byte for byte, and the whole chain verifies the way a host checks it.
        let tgz = api.get(&format!("/v1/packs/{name}/-/1.0.0.tgz")).await.bytes().await.unwrap();
        assert_eq!(tgz[..], v1[..]);
        let sig = api.get(&format!("/v1/packs/{name}/-/1.0.0.sig")).await.bytes().await.unwrap();
        let manifest_bytes = api.get(&format!("/v1/packs/{name}/-/1.0.0.json")).await.bytes().await.unwrap();
        let statement = api.get(&format!("/v1/packs/{name}/-/1.0.0.statement.json")).await;
        assert_eq!(statement.status(), StatusCode::OK);
        let statement = statement.bytes().await.unwrap();
        let fetched_keychain = api.get("/keys/keychain.json").await;
        assert_eq!(fetched_keychain.status(), StatusCode::NOT_FOUND, "no keychain uploaded yet; the bundle carries it");
        let root = world.bundle.resolve(None, &mut TrustState::new(), &SystemClock, ExpiryPolicy::Enforce).unwrap();
        assert!(root.requires_statements());
        let verifier = Verifier::new(root);
        let mut input = VersionInput {
            manifest: &manifest_bytes,
            tarball: &tgz,
            signature: &sig,
            statement: Some(&statement),
            expected: Some((name, "1.0.0")),
            other_versions: &[],
        };
        verifier.verify(&input).unwrap();
        input.statement = None;
        assert_eq!(verifier.verify(&input).unwrap_err().code(), "registry_statement_missing");
        let sbom = api.json(&format!("/v1/packs/{name}/-/1.0.0.sbom.json")).await;
        assert_eq!(sbom["metadata"]["component"]["purl"], format!("pkg:openwop/{name}@1.0.0"));
        assert_eq!(sbom["components"].as_array().unwrap().len(), 3);

        let index = api.json(&format!("/v1/packs/{name}")).await;
        assert_eq!(index["latest"], "1.1.0");
        assert_eq!(index["versions"].as_array().unwrap().len(), 2);
        let all = api.json("/v1/index.json").await;
        assert!(all["packs"].as_array().unwrap().iter().any(|p| p["name"] == name));

        // Yank: the right scope, the manifest and index say so, `latest` moves off it.
        let path = format!("/v1/packs/{name}/-/1.1.0/yank");
        let (status, body) =
            api.send(reqwest::Method::POST, &path, &yanker, Some(json!({"reason": "broken build"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["yanked"], true);
        assert_eq!(body["yankedReason"], "broken build");
        let index = api.json(&format!("/v1/packs/{name}")).await;
        assert_eq!(index["latest"], "1.0.0", "a yanked version is never latest while another is not yanked");
        assert_eq!(index["versions"][1]["yanked"], true);
        assert_eq!(api.get(&format!("/v1/packs/{name}/-/1.1.0.tgz")).await.status(), StatusCode::OK);
        let (status, body) = api.send(reqwest::Method::DELETE, &path, &yanker, None).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "unyank needs packs:yank-revert");
        let (status, body) = api.send(reqwest::Method::DELETE, &path, &publisher, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("yanked").is_none());
        assert_eq!(api.json(&format!("/v1/packs/{name}")).await["latest"], "1.1.0");

        // Deprecate and undeprecate.
        let path = format!("/v1/packs/{name}/-/1.0.0/deprecate");
        let body = json!({"reason": "use 1.1", "supersededBy": format!("{name}@1.1.0")});
        let (status, m) = api.send(reqwest::Method::POST, &path, &publisher, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{m}");
        assert_eq!((m["deprecated"].clone(), m["deprecationReason"].clone()), (json!(true), json!("use 1.1")));
        let (status, m) = api.send(reqwest::Method::DELETE, &path, &publisher, None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(m.get("deprecated").is_none());

        // Advisory: the matched version is yanked, the feed lists it.
        let advisory = json!({
            "id": "TEST-2026-0001", "publishedAt": "2026-11-25", "severity": "high", "summary": "bad",
            "affected": [{"packName": name, "versions": "<1.1.0", "fixedIn": "1.1.0"}]
        });
        let (status, body) =
            api.send(reqwest::Method::POST, "/security/advisories", &publisher, Some(advisory.clone())).await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
        let (status, body) = api.send(reqwest::Method::POST, "/security/advisories", &admin, Some(advisory)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["yanked"], json!([format!("{name}@1.0.0")]));
        let m = api.json(&format!("/v1/packs/{name}/-/1.0.0.json")).await;
        assert_eq!((m["yanked"].clone(), m["yankedReason"].clone()), (json!(true), json!("TEST-2026-0001")));
        let feed = api.json("/security/advisories.json").await;
        assert_eq!(feed["advisories"][0]["id"], "TEST-2026-0001");

        // Outside the 72-hour window unpublish is refused (a version published four days ago).
        let mut old = storage.db.version(name, "1.0.0").await.unwrap().unwrap();
        old.version = "0.9.0".into();
        old.minor = 9;
        old.major = 0;
        old.published_at = pack_verify::trust::format_time(time::OffsetDateTime::now_utc() - time::Duration::days(4));
        storage.db.insert_version(&old, "now").await.unwrap();
        let (status, body) =
            api.send(reqwest::Method::DELETE, &format!("/v1/packs/{name}/-/0.9.0"), &publisher, None).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "unpublish_window_expired"), "{body}");

        // Versions that came in with the spec's and v2's spellings of a deprecation (an import, a
        // mirror): a new deprecation and an undeprecation both leave only the reference fields.
        for (version, minor) in [("0.8.0", 8), ("0.7.0", 7)] {
            let mut spelled = old.clone();
            let mut manifest: Value = serde_json::from_str(&spelled.manifest).unwrap();
            manifest["version"] = json!(version);
            manifest["deprecation"] = json!({"deprecated": true, "reason": "spec", "supersededBy": "x@1"});
            manifest["versionDeprecated"] = json!(true);
            (spelled.version, spelled.minor, spelled.manifest, spelled.deprecated) =
                (version.into(), minor, manifest.to_string(), 1);
            storage.db.insert_version(&spelled, "now").await.unwrap();
        }
        let path = format!("/v1/packs/{name}/-/0.8.0/deprecate");
        let (status, m) = api.send(reqwest::Method::DELETE, &path, &publisher, None).await;
        assert_eq!(status, StatusCode::OK, "{m}");
        assert!(m.get("deprecation").is_none() && m.get("versionDeprecated").is_none(), "{m}");
        let path = format!("/v1/packs/{name}/-/0.7.0/deprecate");
        let (status, m) = api.send(reqwest::Method::POST, &path, &publisher, Some(json!({"reason": "flat"}))).await;
        assert_eq!(status, StatusCode::OK, "{m}");
        assert!(m.get("deprecation").is_none() && m.get("versionDeprecated").is_none(), "{m}");
        assert_eq!((m["deprecated"].clone(), m["deprecationReason"].clone()), (json!(true), json!("flat")));
        let index = api.json(&format!("/v1/packs/{name}")).await;
        let deprecated = |v: &str| {
            index["versions"].as_array().unwrap().iter().find(|e| e["version"] == v).map(|e| e["deprecated"].clone())
        };
        assert_eq!((deprecated("0.8.0"), deprecated("0.7.0")), (Some(json!(false)), Some(json!(true))), "{index}");

        // Unpublish within the window; the version never comes back.
        let (status, _) =
            api.send(reqwest::Method::DELETE, &format!("/v1/packs/{name}/-/1.1.0"), &publisher, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(api.get(&format!("/v1/packs/{name}/-/1.1.0.json")).await.status(), StatusCode::NOT_FOUND);
        let (status, body) = api.put(name, "1.1.0", Some(&publisher), v2.clone()).await;
        assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "version_conflict"));

        // A query that does not parse is refused in the contract's envelope.
        let (status, refusal) = api.send(reqwest::Method::GET, "/v1/-/audit?limit=many", &admin, None).await;
        assert_eq!((status, code(&refusal)), (StatusCode::BAD_REQUEST, "invalid_body"), "{refusal}");
        assert_eq!(refusal["details"]["parameter"], "limit", "{refusal}");
        // Every write is in the audit log, with who did it.
        let (status, log) = api.send(reqwest::Method::GET, "/v1/-/audit?limit=50", &admin, None).await;
        assert_eq!(status, StatusCode::OK);
        let actions: Vec<(String, String)> = log["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap().to_string(), e["principal"].as_str().unwrap().to_string()))
            .collect();
        for expected in [
            ("publish", "acme"),
            ("yank", "acme-ops"),
            ("unyank", "acme"),
            ("deprecate", "acme"),
            ("undeprecate", "acme"),
            ("advisory", "ops"),
            ("unpublish", "acme"),
        ] {
            assert!(
                actions.contains(&(expected.0.to_string(), expected.1.to_string())),
                "{expected:?} missing from {actions:?}"
            );
        }
        stack.cleanup().await;
    }
}

/// (name, version, body, token owner, expected status, expected code).
type Case = (&'static str, &'static str, Vec<u8>, &'static str, StatusCode, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_publish_check_has_its_code_and_writes_nothing() {
    let world = World::new();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let acme = token(&storage, "acme", &["vendor.acme.*", "bogus.*", "singleseg"], &[Scope::Publish]).await;
        let other = token(&storage, "other", &["vendor.other.*"], &[Scope::Publish]).await;
        let server = TestServer::start_registry(Registry::new(storage.clone()).with_trust(world.trust())).await;
        let api = Api { client: reqwest::Client::new(), server };
        let name = "vendor.acme.tools";
        let good = pack(name, "1.0.0", &key(2), "acme-1", "x");

        // The second `name` is the one a last-copy-wins reader would publish under.
        let twice = String::from_utf8(pack_verify::canonical::to_canonical_vec(&json!({
            "name": name, "version": "1.0.0", "license": "Apache-2.0",
            "engines": {"openwop": ">=1.0.0 <2.0.0"},
            "signing": {"method": "manual", "publicKeyRef": "acme-1", "signatureRef": "keys/pack.json.sig"},
        })))
        .unwrap()
        .replacen(r#""version""#, r#""name":"vendor.acme.other","version""#, 1);
        let repeated_name = signed_pack(twice.into_bytes(), &key(2), "x");

        let mut gzip_of_zeros = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gzip_of_zeros, &vec![0u8; 64 << 20]).unwrap();
        let gzip_of_zeros = gzip_of_zeros.finish().unwrap();
        let cases: Vec<Case> = vec![
            (
                "bogus.unsupported-scope.pack",
                "1.0.0",
                good.clone(),
                "acme",
                StatusCode::BAD_REQUEST,
                "invalid_pack_scope",
            ),
            ("singleseg", "1.0.0", good.clone(), "acme", StatusCode::BAD_REQUEST, "invalid_pack_name"),
            (name, "not-a-semver", good.clone(), "acme", StatusCode::BAD_REQUEST, "invalid_version"),
            (name, "1.0.0", vec![], "acme", StatusCode::BAD_REQUEST, "invalid_body"),
            (name, "1.0.0", b"not a gzip stream".to_vec(), "acme", StatusCode::BAD_REQUEST, "tarball_gunzip_failed"),
            (name, "1.0.0", gzip_of_zeros, "acme", StatusCode::BAD_REQUEST, "tarball_too_large"),
            (name, "1.0.0", vec![7u8; 11 << 20], "acme", StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            (name, "2.0.0", good.clone(), "acme", StatusCode::BAD_REQUEST, "manifest_version_mismatch"),
            ("vendor.acme.other", "1.0.0", good.clone(), "acme", StatusCode::BAD_REQUEST, "manifest_name_mismatch"),
            ("vendor.acme.other", "1.0.0", repeated_name, "acme", StatusCode::BAD_REQUEST, "invalid_manifest"),
            (
                name,
                "1.0.0",
                pack(name, "1.0.0", &key(9), "acme-1", "x"),
                "acme",
                StatusCode::BAD_REQUEST,
                "pack_signature_invalid",
            ),
            (
                name,
                "1.0.0",
                pack(name, "1.0.0", &key(9), "nobody-1", "x"),
                "acme",
                StatusCode::BAD_REQUEST,
                "pack_key_unknown",
            ),
            (
                "vendor.other.tools",
                "1.0.0",
                pack("vendor.other.tools", "1.0.0", &key(2), "acme-1", "x"),
                "other",
                StatusCode::FORBIDDEN,
                "pack_namespace_unauthorized",
            ),
            (
                name,
                "1.0.0",
                pack_with(name, "1.0.0", &key(2), "acme-1", "x", |m| {
                    m["engines"] = json!({});
                }),
                "acme",
                StatusCode::BAD_REQUEST,
                "invalid_engines_range",
            ),
            (
                name,
                "1.0.0",
                pack_with(name, "1.0.0", &key(2), "acme-1", "x", |m| {
                    m["runtime"] = json!({"language": "javascript", "entry": "./index.mjs"});
                }),
                "acme",
                StatusCode::BAD_REQUEST,
                "tarball_entry_missing",
            ),
            (
                name,
                "1.0.0",
                with_entry(name, MAX_ENTRY_BYTES + 1),
                "acme",
                StatusCode::BAD_REQUEST,
                "tarball_entry_too_large",
            ),
            // At the limit the entry passes, so the next check (a schema file) is the one that fails.
            (name, "1.0.0", with_entry(name, MAX_ENTRY_BYTES), "acme", StatusCode::BAD_REQUEST, "schema_ref_missing"),
        ];
        for (pack_name, version, body, who, status, expected) in cases {
            let secret = if who == "acme" { &acme } else { &other };
            let (got_status, got) = api.put(pack_name, version, Some(secret), body).await;
            assert_eq!((got_status, code(&got)), (status, expected), "{:?}: {pack_name}@{version}: {got}", stack.kind);
            assert!(got["message"].as_str().is_some_and(|m| m.len() > 10), "{got}");
        }
        // A JSON body is refused as such.
        let resp = api
            .client
            .put(api.server.url(&format!("/v1/packs/{name}/-/1.0.0.tgz")))
            .bearer_auth(&acme)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(code(&resp.json::<Value>().await.unwrap()), "invalid_body");
        // X-Pack-Sha256 that does not match the body.
        let resp = api
            .client
            .put(api.server.url(&format!("/v1/packs/{name}/-/1.0.0.tgz")))
            .bearer_auth(&acme)
            .header("x-pack-sha256", "0".repeat(64))
            .body(good.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(code(&resp.json::<Value>().await.unwrap()), "pack_integrity_failure");

        assert!(
            storage.db.all_versions().await.unwrap().is_empty(),
            "{:?}: a refused publish left a version",
            stack.kind
        );
        // Nothing refused reserved a namespace either: another principal can still take vendor.acme.
        let (status, body) = api.put(name, "1.0.0", Some(&acme), good).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        stack.cleanup().await;
    }
}

/// One HTTP/1.1 exchange on a raw connection, for what a client library hides: whether the
/// body could be written whole, the `Connection` header, and reuse of the connection.
mod wire {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpStream;

    pub struct Answer {
        pub status: u16,
        pub headers: String,
        pub body: String,
    }

    pub fn connect(base: &str) -> TcpStream {
        let stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
        stream
    }

    pub fn read_answer(stream: &mut TcpStream) -> Answer {
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            assert!(reader.read_line(&mut line).unwrap() > 0, "connection closed before an answer; got {head:?}");
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{head}"));
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .unwrap_or_else(|| panic!("no content-length in {head}"));
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        Answer { status, headers: head.to_ascii_lowercase(), body: String::from_utf8(body).unwrap() }
    }

    /// `PUT` of a tarball with `headers` (each ending in CRLF) then `body` as given; the answer.
    pub fn put(stream: &mut TcpStream, path: &str, headers: &str, body: &[u8]) -> Answer {
        send(stream, "PUT", path, &format!("content-type: application/gzip\r\n{headers}"), body)
    }

    /// `POST` with `headers` (each ending in CRLF) then `body` as given; the answer.
    pub fn post(stream: &mut TcpStream, path: &str, headers: &str, body: &[u8]) -> Answer {
        send(stream, "POST", path, headers, body)
    }

    /// `method` on `path` with `headers` (each ending in CRLF) then `body` as given; the answer.
    pub fn send(stream: &mut TcpStream, method: &str, path: &str, headers: &str, body: &[u8]) -> Answer {
        let head = format!("{method} {path} HTTP/1.1\r\nhost: registry\r\n{headers}\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap_or_else(|e| panic!("writing the body of {method} {path}: {e}"));
        read_answer(stream)
    }

    pub fn healthz(stream: &mut TcpStream) -> u16 {
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: registry\r\n\r\n").unwrap();
        read_answer(stream).status
    }

    /// `body` in 1 MiB chunks of the chunked transfer coding.
    pub fn chunked(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in body.chunks(1 << 20) {
            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            out.extend_from_slice(chunk);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        out
    }
}

/// An HTTP/2 `PUT` of `size` bytes on its own connection (with `Expect: 100-continue` if
/// `expect`, sending at once all the same), sent as flow control allows: the
/// answer's status and the reason of a reset of the stream by the server, if one came.
async fn h2_upload(
    base: &str,
    path: &str,
    token: Option<&str>,
    expect: bool,
    size: usize,
) -> (u16, Option<h2::Reason>) {
    let tcp = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let mut request = axum::http::Request::put(format!("{base}{path}"))
        .header("content-type", "application/gzip")
        .header("content-length", size);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if expect {
        request = request.header("expect", "100-continue");
    }
    let (response, mut stream) = client.send_request(request.body(()).unwrap(), false).unwrap();
    let send = async move {
        let mut rest = bytes::Bytes::from(vec![7u8; size]);
        while !rest.is_empty() {
            stream.reserve_capacity(rest.len().min(1 << 20));
            let Some(Ok(granted)) = std::future::poll_fn(|cx| stream.poll_capacity(cx)).await else { break };
            let chunk = rest.split_to(granted.min(rest.len()));
            if stream.send_data(chunk, rest.is_empty()).is_err() {
                break;
            }
        }
        // A reset comes at once after the answer or not at all.
        let reset = std::future::poll_fn(|cx| stream.poll_reset(cx));
        tokio::time::timeout(std::time::Duration::from_millis(500), reset).await.ok().and_then(Result::ok)
    };
    let (response, reset) = tokio::join!(response, send);
    (response.unwrap().status().as_u16(), reset)
}

/// A refused upload is answered, not reset: the client writes every byte of an over-limit or
/// unauthorised body (a tarball or a JSON request) and then reads the refusal in the contract's
/// envelope, and the connection carries the next request; a client waiting for `100 Continue`
/// gets the 413 without sending the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_is_answered_and_the_connection_kept() {
    for stack in stacks().await {
        let storage = stack.storage().await;
        let acme = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
        let admin = token(&storage, "ops", &[], &[Scope::Admin]).await;
        let server = TestServer::start(storage.clone()).await;
        let base = server.base.clone();
        let secret = acme.clone();
        tokio::task::spawn_blocking(move || {
            let acme = secret;
            let path = "/v1/packs/vendor.acme.big/-/1.0.0.tgz";
            let auth = format!("authorization: Bearer {acme}\r\n");
            let over = vec![7u8; 14 << 20];

            let mut conn = wire::connect(&base);
            let declared = format!("{auth}content-length: {}\r\n", over.len());
            let answer = wire::put(&mut conn, path, &declared, &over);
            assert_eq!(answer.status, 413, "{}", answer.body);
            assert!(answer.body.contains("payload_too_large"), "{}", answer.body);
            assert!(!answer.headers.contains("connection: close"), "{}", answer.headers);
            assert_eq!(wire::healthz(&mut conn), 200, "the connection carries the next request");

            let chunked = format!("{auth}transfer-encoding: chunked\r\n");
            let answer = wire::put(&mut conn, path, &chunked, &wire::chunked(&over));
            assert_eq!(answer.status, 413, "counted, not declared: {}", answer.body);
            assert_eq!(wire::healthz(&mut conn), 200);

            let anonymous = format!("content-length: {}\r\n", over.len());
            let answer = wire::put(&mut conn, path, &anonymous, &over);
            assert_eq!(answer.status, 401, "{}", answer.body);
            assert_eq!(wire::healthz(&mut conn), 200);

            // The JSON bodies of the write API go the same way, with the contract's envelope.
            let admin = format!("authorization: Bearer {admin}\r\ncontent-type: application/json\r\n");
            let big_json = vec![b' '; 2 << 20];
            let declared = format!("{admin}content-length: {}\r\n", big_json.len());
            let answer = wire::post(&mut conn, "/security/advisories", &declared, &big_json);
            assert_eq!(answer.status, 413, "{}", answer.body);
            assert!(answer.body.contains("payload_too_large"), "{}", answer.body);
            assert_eq!(wire::healthz(&mut conn), 200);
            let broken = b"{\"id\": ";
            let declared = format!("{admin}content-length: {}\r\n", broken.len());
            let answer = wire::post(&mut conn, "/security/advisories", &declared, broken);
            assert_eq!(answer.status, 400, "{}", answer.body);
            assert!(answer.body.contains("\"error\":\"invalid_body\""), "{}", answer.body);
            assert!(answer.body.contains("line 1"), "says where: {}", answer.body);
            let declared = format!("{auth}content-length: {}\r\n", big_json.len());
            let answer = wire::post(&mut conn, "/v1/packs/vendor.acme.big/-/1.0.0/yank", &declared, &big_json);
            assert_eq!(answer.status, 413, "{}", answer.body);
            assert_eq!(wire::healthz(&mut conn), 200);

            // A body sent where none is read (an unknown URL, a method the route does not take,
            // a `DELETE`) is answered and thrown away the same way.
            for (method, target, status) in [
                ("PUT", "/v1/nowhere/at/all", 404),
                ("POST", "/healthz", 405),
                ("DELETE", "/v1/packs/vendor.acme.big/-/1.0.0/yank", 401),
                ("GET", "/v1/index.json", 200),
            ] {
                let declared = format!("content-length: {}\r\n", over.len());
                let answer = wire::send(&mut conn, method, target, &declared, &over);
                assert_eq!(answer.status, status, "{method} {target}: {}", answer.body);
                assert_eq!(wire::healthz(&mut conn), 200, "after {method} {target}");
            }

            let mut waiting = wire::connect(&base);
            let expecting = format!("{auth}content-length: {}\r\nexpect: 100-continue\r\n", over.len());
            let answer = wire::put(&mut waiting, path, &expecting, b"");
            assert_eq!(answer.status, 413, "answered before the body: {}", answer.body);
            assert!(answer.headers.contains("connection: close"), "{}", answer.headers);
        })
        .await
        .unwrap();
        // Over HTTP/2 the body's rest is read too, so the stream ends cleanly: a body dropped
        // unread makes the server reset the stream after the answer (RST_STREAM NO_ERROR, which
        // RFC 9113 allows but curl 7.88 reports as a failed transfer, without the answer).
        // The same with `Expect: 100-continue` (hyper's HTTP/2 server sends no `100 Continue`, so
        // reading the rest invites nothing the client was not sending anyway).
        for (token, expect, status) in [(Some(acme.as_str()), false, 413), (None, false, 401), (Some(&acme), true, 413)]
        {
            let path = "/v1/packs/vendor.acme.big/-/1.0.0.tgz";
            let (got, reset) = h2_upload(&server.base, path, token, expect, 14 << 20).await;
            assert_eq!((got, reset), (status, None), "HTTP/2 upload, token {}, expect {expect}", token.is_some());
        }
        let (got, reset) = h2_upload(&server.base, "/v1/nowhere/at/all", None, false, 14 << 20).await;
        assert_eq!((got, reset), (404, None), "HTTP/2 upload to no route");
        let api = Api { client: reqwest::Client::new(), server };
        assert_eq!(api.get("/v1/packs/vendor.acme.big").await.status(), StatusCode::NOT_FOUND, "nothing was written");
        stack.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_publish_reserves_the_org_and_races_have_one_winner() {
    let world = World::new();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let alice = token(&storage, "alice", &["vendor.acme.*"], &[Scope::Publish]).await;
        let bob = token(&storage, "bob", &["vendor.acme.*"], &[Scope::Publish]).await;
        // Two replicas: two routers over two handles on the same database and blob store.
        let replica_a =
            TestServer::start_registry(Registry::new(stack.storage().await).with_trust(world.trust())).await;
        let replica_b =
            TestServer::start_registry(Registry::new(stack.storage().await).with_trust(world.trust())).await;
        let a = Api { client: reqwest::Client::new(), server: replica_a };
        let b = Api { client: reqwest::Client::new(), server: replica_b };

        assert_eq!(
            a.put("vendor.acme.one", "1.0.0", Some(&alice), pack("vendor.acme.one", "1.0.0", &key(2), "acme-1", "a"))
                .await
                .0,
            StatusCode::CREATED
        );
        let (status, body) = b
            .put("vendor.acme.two", "1.0.0", Some(&bob), pack("vendor.acme.two", "1.0.0", &key(2), "acme-1", "b"))
            .await;
        assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"), "{body}");
        // What one replica publishes, the other serves at once.
        assert_eq!(b.get("/v1/packs/vendor.acme.one/-/1.0.0.json").await.status(), StatusCode::OK);

        // The same version with different bytes through both replicas at once: one 201, one 409.
        for round in 0..5 {
            let version = format!("2.0.{round}");
            let x = pack("vendor.acme.one", &version, &key(2), "acme-1", "x");
            let y = pack("vendor.acme.one", &version, &key(2), "acme-1", "y");
            let (ra, rb) = tokio::join!(
                a.put("vendor.acme.one", &version, Some(&alice), x.clone()),
                b.put("vendor.acme.one", &version, Some(&alice), y.clone())
            );
            let mut statuses = [ra.0, rb.0];
            statuses.sort();
            assert_eq!(
                statuses,
                [StatusCode::CREATED, StatusCode::CONFLICT],
                "{:?} round {round}: {ra:?} {rb:?}",
                stack.kind
            );
            let served = a.get(&format!("/v1/packs/vendor.acme.one/-/{version}.tgz")).await.bytes().await.unwrap();
            let winner = if ra.0 == StatusCode::CREATED { &x } else { &y };
            assert_eq!(served[..], winner[..], "the stored bytes are the winner's");
        }
        stack.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keychain_uploads_grow_and_rotate_keys() {
    let world = World::new();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let admin = token(&storage, "ops", &[], &[Scope::Admin]).await;
        let publisher = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
        let server = TestServer::start_registry(Registry::new(storage.clone()).with_trust(world.trust())).await;
        let api = Api { client: reqwest::Client::new(), server };
        let put_keychain = |body: String, secret: String| {
            let client = api.client.clone();
            let url = api.server.url("/keys/keychain.json");
            async move {
                let resp = client.put(url).bearer_auth(secret).body(body).send().await.unwrap();
                let status = resp.status();
                (status, resp.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        // A new key for acme arrives in keychain v2; packs signed by it publish afterwards.
        let rotated = keychain(2, &key(1), vec![keychain_key("acme-2", &key(5), "publisher", &["vendor.acme.*"])]);
        let (status, _) = put_keychain(rotated.clone(), publisher.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let early = pack("vendor.acme.new", "1.0.0", &key(5), "acme-2", "n");
        assert_eq!(
            code(&api.put("vendor.acme.new", "1.0.0", Some(&publisher), early.clone()).await.1),
            "pack_key_unknown"
        );
        let (status, body) = put_keychain(rotated.clone(), admin.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["keychainVersion"], 2);
        assert_eq!(put_keychain(rotated.clone(), admin.clone()).await.0, StatusCode::OK, "same bytes again");
        assert_eq!(api.get("/keys/keychain.json").await.text().await.unwrap(), rotated);
        assert!(api.get("/keys/acme-2.pub").await.text().await.unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(api.put("vendor.acme.new", "1.0.0", Some(&publisher), early).await.0, StatusCode::CREATED);

        let discovery = api.json("/.well-known/openwop-registry").await;
        assert_eq!(discovery["writeApi"]["supported"], true);
        assert_eq!(discovery["keychainUrl"], "/keys/keychain.json");
        let acme2 = discovery["signingKeys"].as_array().unwrap().iter().find(|k| k["keyId"] == "acme-2").unwrap();
        assert_eq!(acme2["permittedNamespaces"], json!(["vendor.acme.*"]));

        // Retiring acme-2 (keychain v3 ends its validity) stops new publishes with it; what it
        // signed while valid still verifies, judged at its publish time.
        let mut retired = keychain_key("acme-2", &key(5), "publisher", &["vendor.acme.*"]);
        retired.status = "rotated".into();
        retired.valid_until = Some(pack_verify::trust::format_time(time::OffsetDateTime::now_utc()));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let v3 = keychain(3, &key(1), vec![retired]);
        assert_eq!(put_keychain(v3.clone(), admin.clone()).await.0, StatusCode::CREATED);
        let late = pack("vendor.acme.new", "1.0.1", &key(5), "acme-2", "late");
        let (status, body) = api.put("vendor.acme.new", "1.0.1", Some(&publisher), late).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            ["pack_key_outside_validity", "pack_key_revoked"].contains(&code(&body)),
            "a retired key may not publish: {body}"
        );
        let mut state = TrustState::new();
        let root = world.bundle.resolve(Some(v3.as_bytes()), &mut state, &SystemClock, ExpiryPolicy::Enforce).unwrap();
        let base = "/v1/packs/vendor.acme.new/-/1.0.0";
        let files = [
            api.get(&format!("{base}.json")).await.bytes().await.unwrap(),
            api.get(&format!("{base}.tgz")).await.bytes().await.unwrap(),
            api.get(&format!("{base}.sig")).await.bytes().await.unwrap(),
            api.get(&format!("{base}.statement.json")).await.bytes().await.unwrap(),
        ];
        Verifier::new(root)
            .verify(&VersionInput {
                manifest: &files[0],
                tarball: &files[1],
                signature: &files[2],
                statement: Some(&files[3]),
                expected: Some(("vendor.acme.new", "1.0.0")),
                other_versions: &[],
            })
            .unwrap();

        // Rollback and a keychain signed by another root are refused.
        let (status, body) = put_keychain(keychain(2, &key(1), vec![]), admin.clone()).await;
        assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "trust_keychain_rollback"), "{body}");
        let (status, body) = put_keychain(keychain(3, &key(8), vec![]), admin.clone()).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "trust_keychain_signature_invalid"), "{body}");
        let _ = REGISTRY;
        stack.cleanup().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_only_unreferenced_blobs() {
    let world = World::new();
    for stack in stacks().await {
        let storage = stack.storage().await;
        let publisher = token(&storage, "acme", &["vendor.acme.*"], &[Scope::Publish]).await;
        let server = TestServer::start_registry(Registry::new(storage.clone()).with_trust(world.trust())).await;
        let api = Api { client: reqwest::Client::new(), server };
        let tgz = pack("vendor.acme.kept", "1.0.0", &key(2), "acme-1", "k");
        assert_eq!(api.put("vendor.acme.kept", "1.0.0", Some(&publisher), tgz.clone()).await.0, StatusCode::CREATED);
        // On S3 two object-store blobs per publish, the SBOM and the statement in the database
        // and served from there; in a local directory all four are files.
        let row = storage.db.version("vendor.acme.kept", "1.0.0").await.unwrap().unwrap();
        let mut listed: Vec<String> = storage.blobs.list().await.unwrap().into_iter().map(|b| b.key).collect();
        listed.sort();
        let mut expected = vec![row.tarball_blob.clone(), row.signature_blob.clone()];
        let inline = storage.blobs.inlines_documents();
        if !inline {
            expected.extend(row.sbom_blob.clone().into_iter().chain(row.statement_blob.clone()));
        }
        expected.sort();
        assert_eq!(listed, expected, "{:?}", stack.kind);
        for (key, file) in [(&row.sbom_blob, "1.0.0.sbom.json"), (&row.statement_blob, "1.0.0.statement.json")] {
            let key = key.as_deref().unwrap();
            assert_eq!(key.starts_with(registry_server::storage::blobs::INLINE_PREFIX), inline, "{key}");
            let served = api.get(&format!("/v1/packs/vendor.acme.kept/-/{file}")).await.bytes().await.unwrap();
            assert_eq!(served, storage.blob(key).await.unwrap());
            assert!(key.ends_with(&pack_verify::integrity::Integrity::of(&served).hex()), "{key} names its bytes");
        }
        // An orphan, as a crash between blob write and commit leaves.
        let orphan = storage.blobs.put(bytes::Bytes::from_static(b"orphan tarball")).await.unwrap();

        let young = registry_server::gc::collect(&storage, std::time::Duration::from_secs(3600), false).await.unwrap();
        assert!(young.removed.is_empty());
        assert_eq!(young.young, 1);
        let dry = registry_server::gc::collect(&storage, std::time::Duration::ZERO, true).await.unwrap();
        assert_eq!(dry.removed, vec![orphan.clone()]);
        assert!(storage.blobs.get(&orphan).await.is_ok(), "a dry run removes nothing");
        let real = registry_server::gc::collect(&storage, std::time::Duration::ZERO, false).await.unwrap();
        assert_eq!(real.removed, vec![orphan.clone()]);
        assert_eq!(real.referenced, 4, "tarball, signature, SBOM and statement stay");
        assert!(storage.blobs.get(&orphan).await.is_err());
        let served = api.get("/v1/packs/vendor.acme.kept/-/1.0.0.tgz").await.bytes().await.unwrap();
        assert_eq!(served[..], tgz[..]);
        stack.cleanup().await;
    }
}

/// The SBOM made at publish has the reference registry's shape: regenerated from every fixture
/// version it equals the published SBOM, apart from the generator's name and three legacy
/// documents that were edited by hand upstream (named below).
#[test]
fn publish_sboms_match_the_reference_generator() {
    let Some(tree) = crate::support::fixture_tree("publish_sboms_match_the_reference_generator") else { return };
    let hand_edited =
        ["community.openwop-team.demo@0.1.0", "core.openwop.examples@1.0.0", "vendor.openwop.rust-hello@1.0.0"];
    let mut compared = 0;
    for entry in std::fs::read_dir(tree.join("v1/packs")).unwrap() {
        let dir = entry.unwrap().path().join("-");
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            let Some(base) = path.to_str().unwrap().strip_suffix(".sbom.json").map(str::to_string) else { continue };
            let manifest: Value = serde_json::from_slice(&std::fs::read(format!("{base}.json")).unwrap()).unwrap();
            let tgz = std::fs::read(format!("{base}.tgz")).unwrap();
            let archive = pack_verify::tarball::read_pack(&tgz, &pack_verify::tarball::TarLimits::default()).unwrap();
            let files: Vec<(&str, &[u8])> =
                archive.files().iter().map(|f| (f.path.as_str(), f.data.as_slice())).collect();
            let mut ours: Value =
                serde_json::from_str(&registry_server::publish::sbom::version_sbom(&manifest, &tgz, &files)).unwrap();
            let theirs: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            ours["metadata"]["tools"] = theirs["metadata"]["tools"].clone();
            let id = format!("{}@{}", manifest["name"].as_str().unwrap(), manifest["version"].as_str().unwrap());
            if hand_edited.contains(&id.as_str()) {
                assert_eq!(ours["components"], theirs["components"], "{id}");
                assert_eq!(ours["dependencies"], theirs["dependencies"], "{id}");
            } else {
                assert_eq!(ours, theirs, "{id}");
            }
            compared += 1;
        }
    }
    assert_eq!(compared, 241);
}
