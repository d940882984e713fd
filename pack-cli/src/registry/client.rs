//! [`RegistryClient`]: blocking HTTP against one registry's read and write endpoints.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pack_verify::registry::Link;
use reqwest::StatusCode;
use reqwest::blocking::{Body, Client, RequestBuilder, Response};
use serde_json::{Value, json};

use super::error::RegistryError;

/// Timeouts, retries and size limits of a [`RegistryClient`].
#[derive(Clone)]
pub struct ClientOptions {
    /// Bearer token for write endpoints (sent on every request when set).
    pub token: Option<String>,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Time for a whole request, body included.
    pub timeout: Duration,
    /// Extra attempts for a GET after a transport error, a 5xx or a 429.
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
    /// Largest response body accepted (a hostile registry must not fill memory).
    pub max_response_bytes: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            token: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(120),
            retries: 3,
            backoff: Duration::from_millis(250),
            // Twice the contract's recommended 50 MB decompressed cap: a compressed tarball
            // is always smaller, and JSON documents far smaller.
            max_response_bytes: 100 * 1024 * 1024,
        }
    }
}

impl std::fmt::Debug for ClientOptions {
    // Hand-written so a token never reaches a log or a panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// What a publish returned.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishResponse {
    /// `true` for 201 (a new version), `false` for 200 (the same bytes were already published).
    pub created: bool,
    /// The HTTP status (201 or 200).
    pub status: u16,
    /// The served version manifest.
    pub manifest: Value,
}

/// A client of one registry. Paths are the reference tree's fixed ones (decisions §2: the
/// hard-coded paths of existing clients work on every conforming registry); name and version
/// segments are percent-encoded.
#[derive(Clone)]
pub struct RegistryClient {
    base: String,
    http: Client,
    options: ClientOptions,
    /// What its responses showed (HTTP/2, negotiated by TLS ALPN; how quickly they came),
    /// shared by clones: it sets how many requests to keep in flight.
    link: Arc<Link>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").field("base", &self.base).field("options", &self.options).finish()
    }
}

/// Percent-encodes one path segment or query value: everything but RFC 3986's unreserved
/// characters, so `+` in build metadata travels as `%2B` (as the TypeScript client sends it).
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/v1/packs/{name}/-/{version}{suffix}` with both segments encoded.
fn version_path(name: &str, version: &str, suffix: &str) -> String {
    format!("/v1/packs/{}/-/{}{suffix}", encode(name), encode(version))
}

/// Reads at most `limit` bytes of `reader`, reporting progress; more is an error.
fn read_limited(
    url: &str,
    mut reader: impl Read,
    total: Option<u64>,
    limit: u64,
    progress: &dyn Fn(u64, Option<u64>),
) -> Result<Vec<u8>, RegistryError> {
    if total.is_some_and(|t| t > limit) {
        return Err(too_large(url, limit));
    }
    let mut out = Vec::with_capacity(usize::try_from(total.unwrap_or(0).min(limit)).unwrap_or(0));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| RegistryError::transport(url, format!("reading the body: {e}")))?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
        if out.len() as u64 > limit {
            return Err(too_large(url, limit));
        }
        progress(out.len() as u64, total);
    }
    Ok(out)
}

fn too_large(url: &str, limit: u64) -> RegistryError {
    RegistryError {
        status: None,
        code: "registry_response_too_large".into(),
        message: format!("the response is larger than the {limit}-byte limit"),
        details: None,
        url: url.into(),
    }
}

/// A `Read` over the upload that counts what the HTTP stack has taken, for the progress bar.
struct CountingReader {
    inner: std::io::Cursor<Vec<u8>>,
    sent: Arc<AtomicU64>,
}

impl Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn no_progress(_: u64, _: Option<u64>) {}

impl RegistryClient {
    /// A client for the registry at `base_url` (`https://packs.example.com`, no trailing slash
    /// needed). Sends `User-Agent: pack/<version>`.
    pub fn new(base_url: &str, options: ClientOptions) -> Result<Self, RegistryError> {
        let base = base_url.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(RegistryError::transport(&base, "a registry URL starts with https:// or http://"));
        }
        let http = Client::builder()
            .user_agent(concat!("pack/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .timeout(options.timeout)
            .build()
            .map_err(|e| RegistryError::transport(&base, format!("cannot set up HTTP: {e}")))?;
        Ok(RegistryClient { base, http, options, link: Arc::default() })
    }

    /// The registry's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The absolute URL of a registry-relative path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Requests to have in flight at once to this registry ([`Link::requests_in_flight`]):
    /// [`HTTP2_CONCURRENCY`] once it has answered over HTTP/2 and not from next door (one
    /// connection multiplexes them), else [`HTTP_CONCURRENCY`] (one connection each, as many as
    /// npm opens to a host).
    ///
    /// [`HTTP2_CONCURRENCY`]: pack_verify::registry::HTTP2_CONCURRENCY
    /// [`HTTP_CONCURRENCY`]: pack_verify::registry::HTTP_CONCURRENCY
    pub fn parallel_requests(&self) -> usize {
        self.link.requests_in_flight()
    }

    /// Whether one pack's requests are best sent at once ([`Link::together`]): the registry
    /// answers over HTTP/2, so they share one connection, and from far enough away for the
    /// round trips saved to matter.
    pub fn together(&self) -> bool {
        self.link.together()
    }

    /// Whether a token is configured.
    pub fn has_token(&self) -> bool {
        self.options.token.is_some()
    }

    fn authorize(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.options.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// GET with retries; `Ok(None)` on 404. The body is read (with `progress`) inside the retry
    /// loop, so a connection dropped mid-download is retried too.
    fn get(&self, path: &str, progress: &dyn Fn(u64, Option<u64>)) -> Result<Option<Vec<u8>>, RegistryError> {
        let url = self.url(path);
        let mut attempt = 0;
        loop {
            let sent = Instant::now();
            let result = self.authorize(self.http.get(&url)).send();
            if let Ok(resp) = &result {
                self.link.record(resp.version() == reqwest::Version::HTTP_2, sent.elapsed());
            }
            let outcome = match result {
                Ok(resp) if resp.status() == StatusCode::NOT_FOUND => return Ok(None),
                Ok(resp) if resp.status().is_success() => {
                    let total = resp.content_length();
                    read_limited(&url, resp, total, self.options.max_response_bytes, progress).map(Some)
                }
                Ok(resp) => Err(self.error_from(&url, resp)),
                Err(e) => Err(RegistryError::transport(&url, describe(&e))),
            };
            match outcome {
                Err(e) if attempt < self.options.retries && retriable(&e) => {
                    std::thread::sleep(self.options.backoff * 2u32.saturating_pow(attempt));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn error_from(&self, url: &str, resp: Response) -> RegistryError {
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        // An error body is only read for its envelope; 64 KiB is plenty.
        let _ = resp.take(64 * 1024).read_to_end(&mut body);
        RegistryError::from_response(url, status, &body)
    }

    fn get_required(&self, path: &str, progress: &dyn Fn(u64, Option<u64>)) -> Result<Vec<u8>, RegistryError> {
        self.get(path, progress)?.ok_or_else(|| RegistryError::from_response(&self.url(path), 404, b""))
    }

    fn get_json(&self, path: &str) -> Result<Option<Value>, RegistryError> {
        match self.get(path, &no_progress)? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| self.not_json(path, &e)),
            None => Ok(None),
        }
    }

    fn not_json(&self, path: &str, e: &serde_json::Error) -> RegistryError {
        RegistryError {
            status: None,
            code: "registry_response_invalid".into(),
            message: format!("the response is not JSON: {e}"),
            details: None,
            url: self.url(path),
        }
    }

    /// A registry-relative document, raw; `None` on 404. Used by [`pack_verify::registry::RegistrySource`].
    pub fn fetch_raw(&self, path: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        self.get(path, &no_progress)
    }

    /// `GET /.well-known/openwop-registry`: the discovery document.
    pub fn discovery(&self) -> Result<Value, RegistryError> {
        let path = "/.well-known/openwop-registry";
        self.get_json(path)?.ok_or_else(|| RegistryError::from_response(&self.url(path), 404, b""))
    }

    /// `GET /v1/packs/{name}/index.json`: the pack index, `None` when the registry has no such pack.
    pub fn pack_index(&self, name: &str) -> Result<Option<Value>, RegistryError> {
        self.get_json(&format!("/v1/packs/{}/index.json", encode(name)))
    }

    /// `GET …/{version}.json`, the exact bytes served (verification needs them unchanged).
    pub fn version_manifest(&self, name: &str, version: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        self.get(&version_path(name, version, ".json"), &no_progress)
    }

    /// `GET …/{version}.tgz`; `progress(done, total)` is called as bytes arrive.
    pub fn tarball(
        &self,
        name: &str,
        version: &str,
        progress: &dyn Fn(u64, Option<u64>),
    ) -> Result<Vec<u8>, RegistryError> {
        self.get_required(&version_path(name, version, ".tgz"), progress)
    }

    /// `GET …/{version}.sig`: the 64-byte detached signature.
    pub fn signature(&self, name: &str, version: &str) -> Result<Vec<u8>, RegistryError> {
        self.get_required(&version_path(name, version, ".sig"), &no_progress)
    }

    /// `GET …/{version}.statement.json`: the registry's signed version statement, if it has one.
    pub fn statement(&self, name: &str, version: &str) -> Result<Option<Vec<u8>>, RegistryError> {
        self.get(&version_path(name, version, ".statement.json"), &no_progress)
    }

    /// `GET /keys/keychain.json`: the root-signed keychain envelope, if the registry publishes one.
    pub fn keychain(&self) -> Result<Option<Vec<u8>>, RegistryError> {
        self.get(pack_verify::registry::KEYCHAIN_PATH, &no_progress)
    }

    /// `GET /security/advisories.json`; a registry without a feed has no advisories.
    pub fn advisories(&self) -> Result<Value, RegistryError> {
        Ok(self.get_json("/security/advisories.json")?.unwrap_or_else(|| json!({"advisories": []})))
    }

    /// `GET /v1/packs/-/search?q=&page=&perPage=`: `{query, total, page, perPage, results}`.
    pub fn search(&self, query: &str, page: u32, per_page: u32) -> Result<Value, RegistryError> {
        let path = format!("/v1/packs/-/search?q={}&page={page}&perPage={per_page}", encode(query));
        self.get_json(&path)?.ok_or_else(|| RegistryError::from_response(&self.url(&path), 404, b""))
    }

    /// Sends a write request once (writes are never retried: a lost response must not turn into
    /// a second write) and returns the status and body.
    fn write(&self, req: RequestBuilder, url: &str) -> Result<(u16, Value), RegistryError> {
        let resp = self.authorize(req).send().map_err(|e| RegistryError::transport(url, describe(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(self.error_from(url, resp));
        }
        if status == StatusCode::NO_CONTENT {
            return Ok((status.as_u16(), Value::Null));
        }
        let bytes = read_limited(url, resp, None, self.options.max_response_bytes, &no_progress)?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| RegistryError {
                status: Some(status.as_u16()),
                code: "registry_response_invalid".into(),
                message: format!("the response is not JSON: {e}"),
                details: None,
                url: url.into(),
            })?
        };
        Ok((status.as_u16(), value))
    }

    fn write_json(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value, RegistryError> {
        let url = self.url(path);
        let mut req = self.http.request(method, &url);
        if let Some(body) = body {
            req = req.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        self.write(req, &url).map(|(_, v)| v)
    }

    /// `PUT …/{version}.tgz`: publishes a tarball. `signature` (base64) goes in `X-Pack-Signature`
    /// for packs signed the `ed25519` way (over the tarball; `manual` packs embed theirs).
    /// `progress(sent, total)` follows the upload.
    pub fn publish(
        &self,
        name: &str,
        version: &str,
        tgz: &[u8],
        signature: Option<&str>,
        progress: &dyn Fn(u64, Option<u64>),
    ) -> Result<PublishResponse, RegistryError> {
        let url = self.url(&version_path(name, version, ".tgz"));
        let total = tgz.len() as u64;
        let sent = Arc::new(AtomicU64::new(0));
        let reader = CountingReader { inner: std::io::Cursor::new(tgz.to_vec()), sent: Arc::clone(&sent) };
        let mut req = self
            .http
            .put(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/gzip")
            // The server recomputes it: bytes damaged on the way are refused, never stored.
            .header("X-Pack-Sha256", pack_verify::Integrity::of(tgz).to_string())
            .body(Body::sized(reader, total));
        if let Some(sig) = signature {
            req = req.header("X-Pack-Signature", sig);
        }
        // The HTTP stack reads the body on its own thread; this one reports progress meanwhile.
        let (status, manifest) = std::thread::scope(|scope| {
            let upload = scope.spawn(|| self.write(req, &url));
            while !upload.is_finished() {
                progress(sent.load(Ordering::Relaxed), Some(total));
                std::thread::sleep(Duration::from_millis(50));
            }
            progress(sent.load(Ordering::Relaxed), Some(total));
            upload.join().unwrap_or_else(|_| Err(RegistryError::transport(&url, "the upload thread panicked")))
        })?;
        Ok(PublishResponse { created: status == 201, status, manifest })
    }

    /// `POST …/{version}/yank` with `{"reason", "advisoryUrl"}`; returns the updated manifest.
    pub fn yank(
        &self,
        name: &str,
        version: &str,
        reason: Option<&str>,
        advisory_url: Option<&str>,
    ) -> Result<Value, RegistryError> {
        let mut body = serde_json::Map::new();
        if let Some(r) = reason {
            body.insert("reason".into(), r.into());
        }
        if let Some(u) = advisory_url {
            body.insert("advisoryUrl".into(), u.into());
        }
        let path = version_path(name, version, "/yank");
        self.write_json(reqwest::Method::POST, &path, Some(&Value::Object(body)))
    }

    /// `DELETE …/{version}/yank` (scope `packs:yank-revert`); returns the updated manifest.
    pub fn unyank(&self, name: &str, version: &str) -> Result<Value, RegistryError> {
        self.write_json(reqwest::Method::DELETE, &version_path(name, version, "/yank"), None)
    }

    /// `POST …/{version}/deprecate` with `{"reason", "supersededBy"}`; returns the updated manifest.
    pub fn deprecate(
        &self,
        name: &str,
        version: &str,
        reason: Option<&str>,
        superseded_by: Option<&str>,
    ) -> Result<Value, RegistryError> {
        let mut body = serde_json::Map::new();
        if let Some(r) = reason {
            body.insert("reason".into(), r.into());
        }
        if let Some(s) = superseded_by {
            body.insert("supersededBy".into(), s.into());
        }
        let path = version_path(name, version, "/deprecate");
        self.write_json(reqwest::Method::POST, &path, Some(&Value::Object(body)))
    }

    /// `DELETE …/{version}/deprecate`; returns the updated manifest.
    pub fn undeprecate(&self, name: &str, version: &str) -> Result<Value, RegistryError> {
        self.write_json(reqwest::Method::DELETE, &version_path(name, version, "/deprecate"), None)
    }

    /// `POST /security/advisories` (scope `registry:admin`): returns `{"yanked": [...]}`.
    pub fn post_advisory(&self, advisory: &Value) -> Result<Value, RegistryError> {
        self.write_json(reqwest::Method::POST, "/security/advisories", Some(advisory))
    }
}

/// Retry what may pass on a second try: no answer, a server error, rate limiting.
fn retriable(e: &RegistryError) -> bool {
    match e.status {
        None => e.code == super::error::UNREACHABLE,
        Some(s) => s >= 500 || s == 429,
    }
}

/// A transport error by its causes: reqwest's own top line only repeats the URL, which the
/// error already carries.
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "timed out".into();
    }
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() { e.to_string() } else { parts.join(": ") }
}

impl pack_verify::registry::RegistrySource for RegistryClient {
    fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>, pack_verify::VerifyError> {
        self.fetch_raw(path).map_err(|e| pack_verify::VerifyError::Io { what: e.url.clone(), detail: e.to_string() })
    }

    fn describe(&self) -> String {
        self.base.clone()
    }

    fn concurrency(&self) -> usize {
        self.parallel_requests()
    }

    fn together(&self) -> bool {
        RegistryClient::together(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode("vendor.acme.tools"), "vendor.acme.tools");
        assert_eq!(encode("1.0.0+build.1"), "1.0.0%2Bbuild.1");
        assert_eq!(encode("a b/../c"), "a%20b%2F..%2Fc");
        assert_eq!(version_path("x.y.z", "1.0.0-rc.1", ".tgz"), "/v1/packs/x.y.z/-/1.0.0-rc.1.tgz");
    }

    #[test]
    fn base_urls_are_checked_and_tokens_never_shown() {
        assert!(RegistryClient::new("ftp://x", ClientOptions::default()).is_err());
        let options = ClientOptions { token: Some("owp_secret".into()), ..ClientOptions::default() };
        let client = RegistryClient::new("https://packs.example.com/", options).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(client.base_url(), "https://packs.example.com");
        assert!(!format!("{client:?}").contains("owp_secret"));
    }

    #[test]
    fn unreachable_registries_are_transport_errors() {
        // Port 9 on loopback (discard) is closed on test machines: a refused connection.
        let options = ClientOptions { retries: 1, backoff: Duration::from_millis(1), ..ClientOptions::default() };
        let client = RegistryClient::new("http://127.0.0.1:9", options).unwrap_or_else(|e| panic!("{e}"));
        let Err(err) = client.discovery() else { panic!("port 9 answered") };
        assert_eq!((err.status, err.code.as_str()), (None, super::super::error::UNREACHABLE));
    }
}
