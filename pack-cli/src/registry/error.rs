//! [`RegistryError`]: what a registry answered when it said no (its `{"error","message","details"}`
//! envelope and HTTP status), or that it could not be reached at all.

use std::fmt;

use serde_json::Value;

/// The code used when the registry cannot be reached or answers 5xx without an envelope (the
/// contract's only retriable pack code, §2.6).
pub const UNREACHABLE: &str = "pack_registry_unreachable";

/// A registry request that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryError {
    /// HTTP status, or `None` when no response arrived (connection, TLS, timeout).
    pub status: Option<u16>,
    /// The server's machine code (`version_conflict`, `forbidden`, …) or [`UNREACHABLE`].
    pub code: String,
    /// The server's message, or what went wrong on the way.
    pub message: String,
    /// The envelope's `details`, if any.
    pub details: Option<Value>,
    /// The URL requested (never carries a token: tokens travel in a header).
    pub url: String,
}

impl RegistryError {
    /// A failure before any response arrived.
    pub fn transport(url: &str, message: impl Into<String>) -> Self {
        RegistryError {
            status: None,
            code: UNREACHABLE.into(),
            message: message.into(),
            details: None,
            url: url.into(),
        }
    }

    /// An error response: the JSON envelope when the body is one, else a code derived from the
    /// status (reverse proxies answer with HTML pages).
    pub fn from_response(url: &str, status: u16, body: &[u8]) -> Self {
        let envelope: Option<Value> = serde_json::from_slice(body).ok();
        // The contract's flat form, and the nested `{"error": {"code": …}}` its conformance helper reads.
        let code = envelope.as_ref().and_then(|v| match &v["error"] {
            Value::String(code) => Some(code.clone()),
            Value::Object(inner) => inner.get("code").and_then(Value::as_str).map(str::to_string),
            _ => None,
        });
        let message = envelope
            .as_ref()
            .and_then(|v| v["message"].as_str().or_else(|| v["error"]["message"].as_str()).map(str::to_string));
        let details = envelope.as_ref().and_then(|v| v.get("details")).filter(|d| !d.is_null()).cloned();
        let code = code.filter(|c| is_code(c)).unwrap_or_else(|| status_code(status).to_string());
        let message = message.unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string();
            if text.is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {text}") }
        });
        // The message reaches a terminal: a hostile registry must not send escape sequences.
        let message: String = message.chars().take(2000).map(|c| if c.is_control() { ' ' } else { c }).collect();
        RegistryError { status: Some(status), code, message, details, url: url.into() }
    }

    /// Whether the registry answered and refused (4xx): the request, not the network, is at fault.
    pub fn is_refusal(&self) -> bool {
        self.status.is_some_and(|s| (400..500).contains(&s))
    }

    /// Whether no answer arrived (transport failure) or the registry failed (5xx). An answer
    /// that arrived but is unusable (not JSON, too large) is the registry's error, not the
    /// network's: retrying the network will not fix it.
    pub fn is_unreachable(&self) -> bool {
        match self.status {
            None => self.code == UNREACHABLE,
            Some(status) => status >= 500,
        }
    }

    /// How to fix it, for people.
    pub fn hint(&self) -> String {
        let detail = |what: &str| match &self.details {
            Some(d) => format!("{what}; the registry added: {d}"),
            None => what.to_string(),
        };
        match self.code.as_str() {
            UNREACHABLE => {
                "check the registry URL (--registry, OPENWOP_REGISTRY_URL or `registry` in the config file) \
                            and the network, then retry"
                    .into()
            }
            "unauthenticated" | "key_expired" | "key_revoked" => {
                "store a valid token with `pack login --registry URL` (or set OPENWOP_TOKEN); reads need no \
                 token, so for installs and searches you may instead remove the invalid one (`token` under \
                 [registries.\"URL\"] in pack.toml, or OPENWOP_TOKEN)"
                    .into()
            }
            "forbidden" => detail(
                "the token lacks the scope (publish, yank, yank-revert, admin) or the namespace for this pack; \
                 ask the registry operator for one that has it",
            ),
            "version_conflict" | "conflict" => {
                "versions are immutable: bump `version` in pack.json, rebuild and publish the new version".into()
            }
            "not_found" | "pack_version_not_found" => "check the name and version (`pack info NAME`)".into(),
            "payload_too_large" | "tarball_too_large" => "make the pack smaller (leave out build output)".into(),
            "rate_limited" | "too_many_requests" => "wait a minute and retry".into(),
            "pack_signature_invalid" | "pack_namespace_unauthorized" | "pack_key_unknown" => detail(
                "sign with a key the registry's keychain lists for this namespace (`pack build --key … --key-id …`)",
            ),
            _ => detail("fix what the registry's message says and retry"),
        }
    }
}

/// A code we pass on verbatim: the contract's codes are short snake_case words.
fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn status_code(status: u16) -> &'static str {
    match status {
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        409 => "version_conflict",
        413 => "payload_too_large",
        429 => "rate_limited",
        500..=599 => UNREACHABLE,
        _ => "registry_refused",
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "{} answered {status}: {}", self.url, self.message),
            None => write!(f, "cannot reach {}: {}", self.url, self.message),
        }
    }
}

impl std::error::Error for RegistryError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_and_bare_statuses() {
        let e = RegistryError::from_response("u", 409, br#"{"error":"version_conflict","message":"differs"}"#);
        assert_eq!((e.code.as_str(), e.message.as_str(), e.is_refusal()), ("version_conflict", "differs", true));
        let e = RegistryError::from_response("u", 400, br#"{"error":{"code":"invalid_body","message":"m"}}"#);
        assert_eq!((e.code.as_str(), e.message.as_str()), ("invalid_body", "m"));
        let e = RegistryError::from_response("u", 502, b"<html>bad gateway</html>");
        assert_eq!(e.code, UNREACHABLE);
        assert!(e.is_unreachable());
        let e = RegistryError::from_response("u", 403, b"");
        assert_eq!((e.code.as_str(), e.message.as_str()), ("forbidden", "HTTP 403"));
        assert!(!e.is_unreachable());
        assert!(RegistryError::transport("u", "connection refused").is_unreachable());
        let invalid = RegistryError {
            status: None,
            code: "registry_response_invalid".into(),
            message: "the response is not JSON".into(),
            details: None,
            url: "u".into(),
        };
        assert!(!invalid.is_unreachable(), "an answer arrived; it is the registry's error");
        // A hostile code is not passed on as if it were one of ours.
        let e = RegistryError::from_response("u", 400, br#"{"error":"\u001b[2Jx","message":"m"}"#);
        assert_eq!(e.code, "registry_refused");
    }
}
