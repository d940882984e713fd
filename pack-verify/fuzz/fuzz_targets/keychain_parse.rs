//! Trust documents on arbitrary bytes: keychain envelopes, trust bundles and bare envelopes must
//! never panic.
//!
//! A fuzzer cannot forge the root signature, so on its own it never gets past
//! `Keychain::verify`'s signature check. When the input looks like a JSON object it is therefore
//! also used as a keychain *payload*, signed here with the fuzz-only root key, so the parsing and
//! policy code behind the signature (key entries, timestamps, expiry, rollback state) is explored.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pack_verify::keys::{PrivateKey, PublicKey};
use pack_verify::trust::envelope::Envelope;
use pack_verify::trust::keychain::{KEYCHAIN_PAYLOAD_TYPE, Keychain};
use pack_verify::trust::{ExpiryPolicy, FixedClock, TrustBundle, TrustState};
use time::OffsetDateTime;

const ROOT_ID: &str = "root";
const REGISTRY: &str = "https://r.example";

/// The fuzz-only root key (a fixed seed: nothing it signs is trusted anywhere else).
fn root() -> &'static (PrivateKey, PublicKey) {
    static ROOT: OnceLock<(PrivateKey, PublicKey)> = OnceLock::new();
    ROOT.get_or_init(|| {
        let key = PrivateKey::from_seed([0x42; 32]);
        let public = key.public_key();
        (key, public)
    })
}

/// 2026-07-26T00:00:00Z: fixed, so a run is reproducible.
fn clock() -> FixedClock {
    FixedClock(OffsetDateTime::from_unix_timestamp(1_785_024_000).expect("in range"))
}

fn verify_keychain(envelope: &[u8], policy: ExpiryPolicy) {
    let (_, public) = root();
    let mut state = TrustState::new();
    if let Ok((keychain, _warnings)) =
        Keychain::verify(envelope, ROOT_ID, public, REGISTRY, &mut state, &clock(), policy)
    {
        assert_eq!(keychain.registry, REGISTRY, "accepted a keychain for another registry");
        // Accepting the same keychain again against the state it just wrote must agree.
        let again = Keychain::verify(envelope, ROOT_ID, public, REGISTRY, &mut state, &clock(), policy);
        assert!(again.is_ok(), "the same keychain is refused the second time: {:?}", again.err());
        let _ = state.to_json();
    }
}

fuzz_target!(|data: &[u8]| {
    verify_keychain(data, ExpiryPolicy::Enforce);

    if let Ok(bundle) = TrustBundle::parse(data) {
        let mut state = TrustState::new();
        let _ = bundle.resolve(None, &mut state, &clock(), ExpiryPolicy::Enforce);
    }

    if let Ok(envelope) = Envelope::parse(data, "fuzz") {
        let _ = envelope.payload_bytes();
        let _ = envelope.verify_by(KEYCHAIN_PAYLOAD_TYPE, ROOT_ID, &root().1);
        let json = envelope.to_json();
        let back = Envelope::parse(json.as_bytes(), "fuzz").expect("to_json output parses");
        assert_eq!(back, envelope, "envelope does not round-trip through to_json");
    }

    let _ = TrustState::from_json(data);

    if data.first() == Some(&b'{') {
        let signed = Envelope::sign(KEYCHAIN_PAYLOAD_TYPE, data, &[(ROOT_ID, &root().0)]).to_json();
        verify_keychain(signed.as_bytes(), ExpiryPolicy::Enforce);
        verify_keychain(signed.as_bytes(), ExpiryPolicy::AllowExpired);
    }
});
