#!/usr/bin/env bash
# Bounded cargo-fuzz run over pack-verify's fuzz targets.
#
#   bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Defaults: 60 seconds per target, every target (tar_reader tar_entries manifest_parse
# keychain_parse). Seeds corpora under pack-verify/fuzz/corpus/<target>/ (gitignored) from
# $OPENWOP_FIXTURES/openwop-registry when OPENWOP_FIXTURES is set, plus a few small documents
# written here. Prints the executions each target reached and exits non-zero if any target
# crashed (or left a crash/oom/timeout/leak artifact under pack-verify/fuzz/artifacts/).
#
# Environment:
#   OPENWOP_FIXTURES   directory holding openwop-registry/ (seed corpora; optional)
#   FUZZ_SANITIZER     address (default) or none; `address` falls back to `none` if it cannot build
#   FUZZ_JOBS          cargo build jobs (default: let cargo decide)
#   FUZZ_SEEDS         fixture files copied per seed kind (default 8)
set -euo pipefail

SECONDS_PER_TARGET="${1:-60}"
if [[ $# -gt 0 ]]; then shift; fi
ALL_TARGETS=(tar_reader tar_entries manifest_parse keychain_parse)
if [[ $# -gt 0 ]]; then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [[ "$SECONDS_PER_TARGET" -lt 1 ]]; then
    echo "usage: bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]  (targets: ${ALL_TARGETS[*]})" >&2
    exit 2
fi
for t in "${TARGETS[@]}"; do
    if [[ " ${ALL_TARGETS[*]} " != *" $t "* ]]; then
        echo "unknown target '$t' (targets: ${ALL_TARGETS[*]})" >&2
        exit 2
    fi
done

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CRATE="$REPO/pack-verify"
FUZZ="$CRATE/fuzz"
LOGS="$FUZZ/target/fuzz-logs"
SEEDS="${FUZZ_SEEDS:-8}"
SANITIZER="${FUZZ_SANITIZER:-address}"

# cargo-fuzz passes nightly-only flags (-Zsanitizer, sancov passes); let the stable toolchain
# accept them. The fuzz crate is its own workspace with its own target dir, so it never shares
# build locks or artifacts with the main workspace.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$FUZZ/target"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    cargo install cargo-fuzz --locked
fi

# ---------------------------------------------------------------------------------------------
# Seed corpora (generated at run time, never committed).
seed_corpora() {
    local corpus="$FUZZ/corpus"
    mkdir -p "$corpus"/{tar_reader,tar_entries,manifest_parse,keychain_parse}

    # Hand-written seeds: small, textual, always available.
    printf '%s' '{"name":"core.a.b","version":"1.0.0","integrity":"sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","yanked":{"reason":"bad"},"deprecation":{"deprecated":true},"publishedAt":"2026-01-01T00:00:00Z","signing":{"method":"manual","publicKeyRef":"k1"}}' \
        >"$corpus/manifest_parse/seed-version-manifest.json"
    printf '%s' '{"name":"core.a.b","version":"1.0.0","signing":{"method":"ed25519","keyId":"k1","publicKeyUrl":"https://r.example/k"}}' \
        >"$corpus/manifest_parse/seed-pack.json"
    printf '%s' '[0,-0,0.1,1.0,1e21,1e-7,-1.5e300,9007199254740993,18446744073709551615,-9223372036854775808,"\u0000\u001f\"\\\/\ud83d\ude00\ue000",{"\ue000":1,"\ud83d\ude00":2,"b":[],"a":{}},true,false,null]' \
        >"$corpus/manifest_parse/seed-canonical-edge.json"
    # A keychain document: keychain_parse signs JSON-object inputs with its fuzz-only root key.
    printf '%s' '{"_type":"openwop.keychain","registry":"https://r.example/","version":3,"issuedAt":"2026-01-01T00:00:00Z","expiresAt":"2027-01-01T00:00:00Z","keys":[{"keyId":"pub-1","algorithm":"ed25519","publicKey":"ORLpnWQX+LXPEMbzfru6TnEolAq5bkg+mIcuoggEe/w=","roles":["publisher","registry"],"permittedNamespaces":["core.openwop.*"],"status":"active","validFrom":"2025-01-01T00:00:00Z","validUntil":"2028-01-01T00:00:00+02:00"},{"keyId":"old","algorithm":"ed25519","publicKey":"MCowBQYDK2VwAyEAORLpnWQX+LXPEMbzfru6TnEolAq5bkg+mIcuoggEe/w=","roles":["publisher"],"status":"revoked","revokedAt":"2026-02-01T00:00:00Z"}]}' \
        >"$corpus/keychain_parse/seed-keychain-document.json"
    printf '%s' '{"payloadType":"application/vnd.openwop.keychain+json","payload":"e30=","signatures":[{"keyId":"root","sig":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}]}' \
        >"$corpus/keychain_parse/seed-envelope.json"
    printf '%s' '{"openwopTrustBundle":1,"registry":"https://r.example","root":{"keyId":"root","publicKey":"42maVR4n7j7QZdwVRfc719xLEkbxcHG5vrzmgTIxiJk="},"keychain":{"payloadType":"application/vnd.openwop.keychain+json","payload":"e30=","signatures":[]}}' \
        >"$corpus/keychain_parse/seed-rooted-bundle.json"
    printf '%s' '{"openwopTrustState":1,"registries":{"https://r.example":{"keychainVersion":2,"keychainSha256":"00","expiresAt":"2027-01-01T00:00:00Z","verifiedAt":"2026-01-01T00:00:00Z"}}}' \
        >"$corpus/keychain_parse/seed-trust-state.json"
    cp "$REPO/keys/openwop-reference-registry.trust.json" "$corpus/keychain_parse/seed-reference-bundle.json"

    if [[ -z "${OPENWOP_FIXTURES:-}" ]]; then
        echo "== OPENWOP_FIXTURES not set: seeding only the built-in documents"
        return
    fi
    local reg="$OPENWOP_FIXTURES/openwop-registry"
    if [[ ! -d "$reg/v1/packs" ]]; then
        echo "== $reg/v1/packs not found: seeding only the built-in documents" >&2
        return
    fi
    echo "== seeding corpora from $reg"
    # The smallest tarballs (fast to mutate) plus up to two legacy-layout (`ed25519`) ones.
    local tgzs=()
    mapfile -t tgzs < <(find "$reg/v1/packs" -name '*.tgz' -printf '%s %p\n' | sort -n | head -n "$SEEDS" | cut -d' ' -f2-)
    local legacy
    while IFS= read -r legacy; do
        [[ -f "${legacy%.json}.tgz" ]] && tgzs+=("${legacy%.json}.tgz")
    done < <(grep -l '"method": *"ed25519"' "$reg"/v1/packs/*/-/*.json 2>/dev/null | head -n 2 || true)
    local tgz base
    for tgz in "${tgzs[@]}"; do
        base="$(basename "$(dirname "$(dirname "$tgz")")")-$(basename "$tgz" .tgz)"
        cp "$tgz" "$corpus/tar_reader/fixture-$base.tgz"
        gzip -dc "$tgz" >"$corpus/tar_entries/fixture-$base.tar"
        # The pack.json inside (reference layout or legacy `./pack.json`).
        tar -xzOf "$tgz" pack.json >"$corpus/manifest_parse/fixture-$base.pack.json" 2>/dev/null \
            || tar -xzOf "$tgz" ./pack.json >"$corpus/manifest_parse/fixture-$base.pack.json" 2>/dev/null \
            || rm -f "$corpus/manifest_parse/fixture-$base.pack.json"
        cp "${tgz%.tgz}.json" "$corpus/manifest_parse/fixture-$base.version.json" 2>/dev/null || true
    done
    cp "$reg/.well-known/openwop-registry.json" "$corpus/manifest_parse/fixture-well-known.json" 2>/dev/null || true
    cp "$reg/.well-known/openwop-registry.json" "$corpus/keychain_parse/fixture-well-known.json" 2>/dev/null || true
}

seed_corpora

# ---------------------------------------------------------------------------------------------
# Build once (falls back to no sanitizer when ASan cannot be built on this toolchain).
JOBS=()
if [[ -n "${FUZZ_JOBS:-}" ]]; then JOBS=(--jobs "$FUZZ_JOBS"); fi
cd "$CRATE"
echo "== building fuzz targets (sanitizer: $SANITIZER)"
if ! cargo fuzz build --sanitizer "$SANITIZER" --debug-assertions "${JOBS[@]}" "${TARGETS[@]:0:1}"; then
    if [[ "$SANITIZER" == none ]]; then
        echo "== build failed" >&2
        exit 1
    fi
    echo "== build with --sanitizer $SANITIZER failed; retrying with --sanitizer none" >&2
    SANITIZER=none
    cargo fuzz build --sanitizer none --debug-assertions "${JOBS[@]}" "${TARGETS[@]:0:1}"
fi
cargo fuzz build --sanitizer "$SANITIZER" --debug-assertions "${JOBS[@]}"

# ---------------------------------------------------------------------------------------------
# Run each target for a bounded time.
mkdir -p "$LOGS"
declare -A EXECS RATE STATUS CORPUS
failed=0
for t in "${TARGETS[@]}"; do
    log="$LOGS/$t.log"
    stamp="$LOGS/$t.stamp"
    : >"$stamp"
    mkdir -p "$FUZZ/artifacts/$t"
    echo "== fuzzing $t for ${SECONDS_PER_TARGET}s (log: ${log#"$REPO"/})"
    rc=0
    cargo fuzz run --sanitizer "$SANITIZER" --debug-assertions "${JOBS[@]}" "$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        >"$log" 2>&1 || rc=$?
    # libFuzzer's closing stats line, or its `#N DONE` status line.
    execs="$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
    if [[ -z "$execs" ]]; then
        execs="$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$log" | tail -n 1)"
    fi
    rate="$(sed -n 's/^#[0-9]*[[:space:]]*DONE.* exec\/s: \([0-9]*\).*/\1/p' "$log" | tail -n 1)"
    corpus_n="$(find "$FUZZ/corpus/$t" -type f | wc -l)"
    new_artifacts="$(find "$FUZZ/artifacts/$t" -type f -newer "$stamp" \
        \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)"
    if [[ $rc -ne 0 || $new_artifacts -gt 0 ]]; then
        STATUS[$t]="FAILED (exit $rc, $new_artifacts new artifact(s))"
        failed=1
        echo "---- $t: last lines of $log" >&2
        tail -n 40 "$log" >&2
        find "$FUZZ/artifacts/$t" -type f -newer "$stamp" >&2
    else
        STATUS[$t]=ok
    fi
    EXECS[$t]="${execs:-?}"
    RATE[$t]="${rate:-?}"
    CORPUS[$t]="$corpus_n"
    echo "   $t: ${EXECS[$t]} executions (${RATE[$t]} exec/s), corpus $corpus_n, ${STATUS[$t]}"
done

echo
echo "== fuzz summary: ${SECONDS_PER_TARGET}s per target, sanitizer $SANITIZER, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '%-16s %14s %10s %8s  %s\n' target executions exec/s corpus status
for t in "${TARGETS[@]}"; do
    printf '%-16s %14s %10s %8s  %s\n' "$t" "${EXECS[$t]}" "${RATE[$t]}" "${CORPUS[$t]}" "${STATUS[$t]}"
done
exit "$failed"
