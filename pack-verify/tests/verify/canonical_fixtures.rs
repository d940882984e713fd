//! The canonical-JSON writer against every real `pack.json`: re-canonicalising the bytes the
//! reference builder signed must give the same bytes.

use pack_verify::canonical::to_canonical_vec;
use pack_verify::tarball::read_pack;

use crate::support::fixture_registry;

#[test]
fn every_signed_pack_json_is_a_fixed_point() {
    let Some(dir) = fixture_registry("every_signed_pack_json_is_a_fixed_point") else { return };
    let mut checked = 0;
    let mut legacy = 0;
    for pack in std::fs::read_dir(dir.join("v1/packs")).expect("packs dir") {
        let versions = pack.expect("entry").path().join("-");
        for file in std::fs::read_dir(versions).expect("versions dir") {
            let path = file.expect("entry").path();
            if path.extension().is_none_or(|e| e != "tgz") {
                continue;
            }
            let archive = read_pack(&std::fs::read(&path).expect("read"), &Default::default()).expect("fixture reads");
            let value: serde_json::Value = serde_json::from_slice(archive.pack_json()).expect("pack.json parses");
            if archive.get("keys/pack.json.sig").is_none() {
                // The two legacy `ed25519` packs ship pretty-printed, unsigned pack.json.
                legacy += 1;
                continue;
            }
            let canonical = to_canonical_vec(&value);
            assert!(canonical == archive.pack_json(), "{} is not reproduced byte for byte", path.display());
            checked += 1;
        }
    }
    assert!(checked > 200, "only {checked} signed pack.json files found");
    assert!(legacy <= 2, "{legacy} unsigned pack.json files");
}
