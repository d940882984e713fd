//! Shared test support: locating fixtures, building trust roots and signed packs.

use std::path::PathBuf;

use pack_verify::TrustBundle;
use pack_verify::trust::{ExpiryPolicy, SystemClock, TrustRoot, TrustState};

/// The fixture registry tree, or `None` (with a loud message) when `OPENWOP_FIXTURES` is unset.
pub fn fixture_registry(test: &str) -> Option<PathBuf> {
    match std::env::var_os("OPENWOP_FIXTURES") {
        Some(dir) => {
            let path = PathBuf::from(dir).join("openwop-registry");
            assert!(
                path.join("v1/index.json").is_file(),
                "OPENWOP_FIXTURES is set but {} has no v1/index.json",
                path.display()
            );
            Some(path)
        }
        None => {
            eprintln!("SKIPPED {test}: OPENWOP_FIXTURES is not set (point it at ../shared/fixtures)");
            None
        }
    }
}

/// The shipped reference bundle resolved into a trust root.
pub fn reference_root() -> TrustRoot {
    let bundle = TrustBundle::reference().expect("shipped bundle parses");
    bundle.resolve(None, &mut TrustState::new(), &SystemClock, ExpiryPolicy::Enforce).expect("pinned bundle resolves")
}

/// The three files of one fixture version.
pub struct FixtureVersion {
    pub name: String,
    pub version: String,
    pub manifest: Vec<u8>,
    pub tarball: Vec<u8>,
    pub signature: Vec<u8>,
}

pub fn load_version(registry: &std::path::Path, name: &str, version: &str) -> FixtureVersion {
    let base = registry.join("v1/packs").join(name).join("-");
    let read = |ext: &str| std::fs::read(base.join(format!("{version}.{ext}"))).expect("fixture file exists");
    FixtureVersion {
        name: name.to_string(),
        version: version.to_string(),
        manifest: read("json"),
        tarball: read("tgz"),
        signature: read("sig"),
    }
}
