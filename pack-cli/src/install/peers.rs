//! `peerDependencies` against a host's capabilities (contract §7.5): every entry is required
//! unless `peerDependenciesMeta.<cap>.optional` is true; unmet optional peers install degraded
//! and are reported.

use serde_json::Value;

/// The capabilities a host advertises (`/.well-known/openwop` `capabilities`, or a file).
#[derive(Debug, Clone)]
pub struct HostCapabilities(Value);

impl HostCapabilities {
    /// From the host's discovery document (`{"capabilities": {...}}`) or a bare capability object.
    pub fn from_document(doc: Value) -> Self {
        match doc.get("capabilities") {
            Some(caps) => Self(caps.clone()),
            None => Self(doc),
        }
    }

    /// Whether capability `key` is present and not switched off. Dotted keys are looked up both
    /// literally (`"host.agentRuntime": …`) and as a path (`host: {agentRuntime: …}`).
    pub fn provides(&self, key: &str) -> bool {
        let on = |v: &Value| !matches!(v, Value::Null | Value::Bool(false)) && v.as_str() != Some("unsupported");
        if self.0.get(key).is_some_and(on) {
            return true;
        }
        let mut cur = &self.0;
        for part in key.split('.') {
            match cur.get(part) {
                Some(next) => cur = next,
                None => return false,
            }
        }
        on(cur)
    }
}

/// The outcome of checking one pack's peers.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PeerCheck {
    /// Required capabilities the host lacks (the install must fail).
    pub missing: Vec<String>,
    /// Optional capabilities the host lacks (installed degraded).
    pub degraded: Vec<String>,
}

/// Checks a pack manifest's `peerDependencies` against `host`.
pub fn check(manifest: &Value, host: &HostCapabilities) -> PeerCheck {
    let mut out = PeerCheck::default();
    let Some(peers) = manifest.get("peerDependencies").and_then(Value::as_object) else {
        return out;
    };
    for cap in peers.keys() {
        if host.provides(cap) {
            continue;
        }
        let optional = manifest
            .pointer(&format!("/peerDependenciesMeta/{}/optional", cap.replace('~', "~0").replace('/', "~1")))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if optional {
            out.degraded.push(cap.clone());
        } else {
            out.missing.push(cap.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn required_optional_and_dotted_keys() {
        let host = HostCapabilities::from_document(json!({"capabilities": {
            "host": {"agentRuntime": "supported"}, "aiProviders": ["openai"], "mcp": false
        }}));
        let manifest = json!({
            "peerDependencies": {"host.agentRuntime": "supported", "aiProviders": "supported",
                                  "mcp": "supported", "host.fs": "supported"},
            "peerDependenciesMeta": {"host.fs": {"optional": true}}
        });
        let result = check(&manifest, &host);
        assert_eq!(result.missing, vec!["mcp".to_string()]);
        assert_eq!(result.degraded, vec!["host.fs".to_string()]);
        assert_eq!(check(&json!({}), &host), PeerCheck::default());
    }
}
