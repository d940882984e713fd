#!/usr/bin/env bash
# One-command benchmark harness for the registry (see docs/performance.md).
#
#   OPENWOP_FIXTURES=/work/shared/fixtures bench/run.sh [SECTION...]
#
# Sections (default: all but instructions): http publish rss verify batch install remote resolve
# instructions.
#   http     wrk: hot metadata GETs and a ~20 KB tarball GET, registry-server (SQLite + local
#            directory, imported fixture registry) vs nginx serving `registry-server export`
#            of the same data, back to back; prints requests/s and the ratio ours/nginx.
#   instructions  callgrind (valgrind): the same GETs as http, in user-space instructions per
#            request for ours, BENCH_BASELINE_BIN and nginx; repeatable to the instruction, for
#            telling a change of a few percent apart (not in the default run: takes minutes)
#   verify   hyperfine: `pack-verify registry <fixture tree>` in a cold process, beside the floors
#            of reading the same files with `cat` and of starting the process.
#   batch    `cargo bench -p pack-verify --bench verify_registry` (criterion, in process): the
#            verifier's `check_all` against `ed25519_dalek::verify_batch` over the same 241
#            signatures, this machine's batch-verification limit.
#   install  hyperfine: `pack install` of every fixture pack, cold cache vs warm cache, against
#            nginx serving the fixture tree; the peer is downloading and verifying the same
#            versions (`pack-verify registry` over HTTP), beside the download alone (curl) and
#            `tar -xzf` of each pack's newest tarball (the file-creation floor).
#   remote   hyperfine: the same `pack install`, cold and warm, from a registry BENCH_RTT_MS (20)
#            away (bench/latency_proxy.py in front of nginx with TLS), once offering HTTP/1.1
#            alone and once HTTP/2; beside it curl downloading the same files over HTTP/2 with
#            100 streams (the download floor at that distance); and `pack-verify registry` of the
#            whole fixture tree over each protocol.
#   publish  `cargo bench -p registry-server --bench publish`: publishes/s with full verification
#            on SQLite + a local directory, and on PostgreSQL + S3 when OPENWOP_TEST_DATABASE_URL
#            and OPENWOP_TEST_S3_ENDPOINT are set (moto_server on loopback, as in CI, or a faster
#            S3 server such as s3s-fs; see docs/performance.md). Also measures that S3 server
#            alone (unsigned curl PUTs): the publish rate it allows at best.
#   rss      /usr/bin/time -v: peak RSS of registry-server with BENCH_VERSIONS (default 10,000)
#            synthetic signed versions published into it, under wrk on /v1/index.json (cold
#            cache, 32 connections) and after every pack index was requested.
#   resolve  `cargo bench -p pack-cli --bench resolve` (criterion, synthetic 10,000-pack graph).
#
# The run ends with a summary table: one row per target of docs/performance.md, with our figure,
# the peer measured in the same run, the ratio and the target.
#
# Nothing here fails on a timing: a missing tool skips its section loudly, results are printed.
#
# Environment:
#   OPENWOP_FIXTURES   directory holding openwop-registry/ (required)
#   BENCH_DURATION     seconds per wrk run (default 10)
#   BENCH_CONNECTIONS  wrk connections (default 32)
#   BENCH_THREADS      wrk threads (default 2; 1 when pinned)
#   BENCH_PIN          http: 1 (default on 2+ cores with taskset) runs wrk on CPU 0 and every server
#                      (ours, baseline, nginx) on the remaining CPUs, each with one worker per
#                      server CPU; 0 lets them share every core. Pinning keeps the load generator
#                      from competing with the server it measures, which otherwise moves the
#                      ratio more than the servers differ.
#   BENCH_REPEAT       http: how many times each ours/nginx pair is measured (default 1); every
#                      pair is printed, then the median ratio
#   BENCH_BASELINE_BIN http: another registry-server binary (e.g. a copy of the previous build) to
#                      serve the same data and measure in the same loop, as a third column
#   BENCH_INSTALL_DIR  install: where host directories and caches are written (default: the work
#                      directory under $TMPDIR); /dev/shm measures without the disk's file system
#   BENCH_RTT_MS       remote: the round trip the proxy adds (default 20)
#   BENCH_PUBLISH_DIR  publish: where the SQLite stack's data directory is created (default:
#                      $TMPDIR); /dev/shm measures without the disk's file system
#   BENCH_SKIP_BUILD   set: do not build, use the binaries already in $CARGO_TARGET_DIR/release
#   CARGO_TARGET_DIR   where release binaries are built (default: <repo>/target)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
BIN="$TARGET/release"
DURATION="${BENCH_DURATION:-10}"
CONNS="${BENCH_CONNECTIONS:-32}"
PIN="${BENCH_PIN:-1}"
if [[ "$PIN" == 1 ]] && [[ $(nproc) -ge 2 ]] && command -v taskset >/dev/null 2>&1; then
    LOAD_CPUS="0"
    SERVER_CPUS="1-$(($(nproc) - 1))"
    SERVER_WORKERS=$(($(nproc) - 1))
    ON_SERVER_CPUS=(taskset -c "$SERVER_CPUS")
    ON_LOAD_CPUS=(taskset -c "$LOAD_CPUS")
    THREADS="${BENCH_THREADS:-1}"
else
    PIN=0
    SERVER_WORKERS=auto
    ON_SERVER_CPUS=()
    ON_LOAD_CPUS=()
    THREADS="${BENCH_THREADS:-2}"
fi
REPEAT="${BENCH_REPEAT:-1}"
BASELINE_BIN="${BENCH_BASELINE_BIN:-}"
if [[ $# -gt 0 ]]; then SECTIONS=("$@"); else SECTIONS=(http publish rss verify batch install remote resolve); fi
want() { [[ " ${SECTIONS[*]} " == *" $1 "* ]]; }

if [[ -z "${OPENWOP_FIXTURES:-}" || ! -f "$OPENWOP_FIXTURES/openwop-registry/v1/index.json" ]]; then
    echo "OPENWOP_FIXTURES must name a directory holding openwop-registry/v1/index.json" >&2
    exit 2
fi
TREE="$OPENWOP_FIXTURES/openwop-registry"
TRUST="$REPO/keys/openwop-reference-registry.trust.json"

# --- tools ------------------------------------------------------------------------------------
missing=()
for tool in nginx wrk hyperfine curl; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] || missing+=("$tool")
done
if [[ ${#missing[@]} -gt 0 ]] && command -v apt-get >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]]; then
    echo "== installing ${missing[*]} (apt-get)"
    apt-get install -y "${missing[@]/nginx/nginx-light}" >/dev/null 2>&1 \
        || { apt-get update >/dev/null 2>&1 && apt-get install -y "${missing[@]}" >/dev/null 2>&1; } || true
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; }
skip() { echo; echo "!! SKIPPED $1: $2"; }

# --- machine facts ----------------------------------------------------------------------------
echo "== $(date -u +%FT%TZ) on $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "   $(rustc --version); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
have nginx && echo "   $("$NGINX" -v 2>&1)"
have wrk && echo "   $(wrk --version 2>&1 | head -1)"
have hyperfine && echo "   $(hyperfine --version)"

# --- build ------------------------------------------------------------------------------------
# Only what the chosen sections run, so a broken crate elsewhere does not block the others.
if [[ -n "${BENCH_SKIP_BUILD:-}" ]]; then
    echo "== BENCH_SKIP_BUILD: using the binaries already in $BIN"
else
    echo "== building release binaries into $BIN"
    (cd "$REPO" && cargo build --release -q -p registry-server)
    if want install || want remote; then (cd "$REPO" && cargo build --release -q -p pack-cli); fi
    if want verify || want remote; then (cd "$REPO" && cargo build --release -q -p pack-verify --features cli); fi
fi

WORK="$(mktemp -d /tmp/openwop-bench.XXXXXX)"
chmod 755 "$WORK" # nginx workers run as an unprivileged user
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pidfile in "$WORK"/nginx-*.pid; do
        [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
    # A process killed above may still be writing its last file (valgrind dumps its counters on
    # SIGTERM), which makes one `rm -rf` fail with "Directory not empty" and the run exit 1.
    for _ in 1 2 3 4 5; do
        rm -rf "$WORK" 2>/dev/null && return 0
        sleep 0.5
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
    for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "not ready: $1" >&2
    return 1
}

# The summary: one row per measure (what, ours, peer, ratio, target, verdict), printed at the end.
SUMMARY="$WORK/summary.tsv"
: >"$SUMMARY"
result() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$SUMMARY"; }
# "met" when value >= target (or <= with `at_most`), "below target" / "above target" otherwise.
verdict() { # value target [at_most]
    if [[ "${3:-}" == at_most ]]; then
        awk -v v="$1" -v t="$2" 'BEGIN {print (v <= t ? "met" : "above target")}'
    else
        awk -v v="$1" -v t="$2" 'BEGIN {print (v >= t ? "met" : "below target")}'
    fi
}
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
# Mean seconds of the named command in a `hyperfine --export-json` file.
hyperfine_mean() { # json name
    python3 - "$1" "$2" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    if r["command"] == sys.argv[2]:
        print(r["mean"])
EOF
}
# The middle estimate of a criterion "time: [lo mid hi]" line for benchmark $2, in milliseconds.
criterion_ms() { # output-file bench-id
    awk -v id="$2" '
        index($0, id) == 1 || (prev == id && /time:/) {
            if (match($0, /time: +\[[^]]*\]/)) {
                split(substr($0, RSTART, RLENGTH), f, /[][ ]+/)
                # f: "time:" lo unit mid unit hi unit
                v = f[4]; u = f[5]
                if (u == "s") v *= 1000; else if (u == "µs" || u == "us") v /= 1000; else if (u == "ns") v /= 1e6
                print v; exit
            }
        }
        { if ($0 ~ /^[A-Za-z_\/0-9]+$/) prev = $0 }' < <(tr '\r' '\n' <"$1")
}

# --- data: import, export, serve --------------------------------------------------------------
echo "== importing $TREE into $WORK/data (SQLite + local directory), exporting to $WORK/export"
"$BIN/registry-server" import "$TREE" --data-dir "$WORK/data" >/dev/null
"$BIN/registry-server" export "$WORK/export" --data-dir "$WORK/data" >/dev/null
[[ -n "$BASELINE_BIN" ]] && cp -a "$WORK/data" "$WORK/data-baseline"

start_nginx() { # root port [h1|h2: over TLS with $WORK/tls's certificate, HTTP/2 offered or not]
    local root="$1" port="$2" conf="$WORK/nginx-$2.conf" listen="listen 127.0.0.1:$2;" tls=""
    if [[ -n "${3:-}" ]]; then
        listen="listen 127.0.0.1:$port ssl;"
        [[ "$3" == h2 ]] && listen="listen 127.0.0.1:$port ssl http2;"
        tls="ssl_certificate $WORK/tls/server.pem; ssl_certificate_key $WORK/tls/server.key;"
    fi
    cat >"$conf" <<EOF
worker_processes $SERVER_WORKERS;
pid $WORK/nginx-$port.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_requests 100000;
    open_file_cache max=10000 inactive=60s;
    types { application/json json; application/octet-stream tgz sig; }
    client_body_temp_path $WORK/nginx-tmp; proxy_temp_path $WORK/nginx-tmp;
    fastcgi_temp_path $WORK/nginx-tmp; uwsgi_temp_path $WORK/nginx-tmp; scgi_temp_path $WORK/nginx-tmp;
    server {
        $listen
        $tls
        root $root;
        etag on;
        # The two rewrites README.md documents for a plain file server.
        location = /.well-known/openwop-registry { rewrite ^ /.well-known/openwop-registry.json last; }
        location ~ ^/v1/packs/([^/]+)$ { rewrite ^/v1/packs/([^/]+)$ /v1/packs/\$1/index.json last; }
    }
}
EOF
    mkdir -p "$WORK/nginx-tmp"
    "${ON_SERVER_CPUS[@]}" "$NGINX" -c "$conf" -p "$WORK" -e "$WORK/nginx-error.log"
}

# A throwaway certificate authority and a certificate for 127.0.0.1 it signed, in $WORK/tls
# (clients trust the authority through SSL_CERT_FILE).
make_certs() {
    mkdir -p "$WORK/tls"
    (
        cd "$WORK/tls"
        printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >server.ext
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=bench-ca \
            -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
            -keyout server.key -out server.csr 2>/dev/null
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server.pem 2>/dev/null
        chmod 644 server.key
    )
}

# The fixture packs that install on their own (some have only yanked versions, some need host
# capabilities a bare host lacks), probed once against the registry at $1 with work directory
# $2, into SPECS (and $WORK/specs.txt).
probe_specs() { # base dir
    if [[ -s "$WORK/specs.txt" ]]; then mapfile -t SPECS <"$WORK/specs.txt"; return; fi
    local all spec
    mkdir -p "$2/probe"
    printf 'registry = "%s"\n[registries."%s"]\ntrust = "%s"\n' "$1" "$1" "$TRUST" >"$2/probe/pack.toml"
    mapfile -t all < <(cd "$TREE/v1/packs" && for d in *; do [[ -f "$d/index.json" ]] && echo "$d"; done)
    SPECS=()
    for spec in "${all[@]}"; do
        if OPENWOP_PACK_CONFIG="$2/probe/pack.toml" PACK_CACHE_DIR="$2/probe/cache" \
            "$BIN/pack" --json install "$spec" --host-dir "$2/probe/host-$spec" >/dev/null 2>&1; then
            SPECS+=("$spec")
        fi
    done
    printf '%s\n' "${SPECS[@]}" >"$WORK/specs.txt"
    PROBED="${#all[@]}"
}

# A registry-server on the server CPUs: binary, data dir, log file. Sets SERVED to its base URL
# (not printed: a command substitution would run it in a subshell and lose the process).
serve_registry() {
    local port
    port=$(free_port)
    "${ON_SERVER_CPUS[@]}" "$1" --log-format json serve --data-dir "$2" --listen "127.0.0.1:$port" \
        --writes-per-minute 100000000 >"$3" 2>&1 &
    PIDS+=($!)
    SERVED="http://127.0.0.1:$port"
    wait_http "$SERVED/readyz"
}
serve_registry "$BIN/registry-server" "$WORK/data" "$WORK/server.log"
OURS="$SERVED"
if [[ -n "$BASELINE_BIN" ]]; then
    # A second server on its own copy of the data (taken before either server started).
    serve_registry "$BASELINE_BIN" "$WORK/data-baseline" "$WORK/baseline.log"
    BASELINE="$SERVED"
fi

if have nginx; then
    NGINX_PORT=$(free_port)
    start_nginx "$WORK/export" "$NGINX_PORT"
    PEER="http://127.0.0.1:$NGINX_PORT"
    wait_http "$PEER/v1/index.json"
fi

# A pack with several versions, one of its manifests, and the tarball closest to 20 KB. The first
# line is taken with awk, which reads to the end: `head -1` exits early, the writer before it can
# die of SIGPIPE, and under `pipefail` that silently ended the whole script right after
# "importing" (seen three times).
PACK="core.openwop.http"
MANIFEST_PATH="$(cd "$TREE" && ls v1/packs/$PACK/-/*.json | grep -v -e sbom -e statement | awk 'NR == 1')"
TGZ_PATH="$(cd "$TREE" && find v1/packs -name '*.tgz' -printf '%s %p\n' \
    | awk '{d=$1-20480; if (d<0) d=-d; print d, $2}' | sort -n | awk 'NR == 1 {print $2}')"

# --- http -------------------------------------------------------------------------------------
rps() { # url -> requests/s (wrk)
    "${ON_LOAD_CPUS[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$1" >"$WORK/wrk.out" 2>&1 || true
    local r
    r="$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out")"
    local errs
    errs="$(grep -E 'Non-2xx|Socket errors' "$WORK/wrk.out" || true)"
    [[ -n "$errs" ]] && echo "   wrk: $errs ($1)" >&2
    echo "${r:-0}"
}
if want http; then
    if ! have wrk || ! have nginx; then
        skip http "needs wrk and nginx"
    else
        echo
        echo "== http: wrk -t$THREADS -c$CONNS -d${DURATION}s, ours then nginx back to back, $REPEAT time(s) (load $(cut -d' ' -f1 /proc/loadavg))"
        if [[ "$PIN" == 1 ]]; then
            echo "   pinned: wrk on CPU $LOAD_CPUS, servers on CPU $SERVER_CPUS ($SERVER_WORKERS worker(s) each)"
        else
            echo "   not pinned: wrk and the servers share every core"
        fi
        if [[ -n "$BASELINE_BIN" ]]; then
            echo "   baseline column: $BASELINE_BIN, measured right after ours"
            printf '%-58s %12s %12s %12s %8s %8s\n' "GET" "ours req/s" "baseline" "nginx req/s" "ratio" "base/ng"
        else
            printf '%-58s %12s %12s %8s\n' "GET" "ours req/s" "nginx req/s" "ratio"
        fi
        for path in "/.well-known/openwop-registry" "/v1/index.json" "/v1/packs/$PACK" "/$MANIFEST_PATH" \
            "/security/advisories.json" "/$TGZ_PATH"; do
            # Same bytes from both (the export is byte-identical to what we serve).
            if ! cmp -s <(curl -fsS "$OURS$path") <(curl -fsS "$PEER$path"); then
                echo "   note: bodies differ for $path" >&2
            fi
            ratios=() ours_rps=() peer_rps=()
            for _ in $(seq 1 "$REPEAT"); do
                a="$(rps "$OURS$path")"
                if [[ -n "$BASELINE_BIN" ]]; then c="$(rps "$BASELINE$path")"; fi
                b="$(rps "$PEER$path")"
                r="$(echo "$a / $b" | bc -l)"
                ratios+=("$r") ours_rps+=("$a") peer_rps+=("$b")
                if [[ -n "$BASELINE_BIN" ]]; then
                    printf '%-58s %12.0f %12.0f %12.0f %7.2fx %7.2fx\n' "$path" "$a" "$c" "$b" "$r" "$(echo "$c / $b" | bc -l)"
                else
                    printf '%-58s %12.0f %12.0f %7.2fx\n' "$path" "$a" "$b" "$r"
                fi
            done
            r="$(printf '%s\n' "${ratios[@]}" | median)"
            if [[ "$REPEAT" -gt 1 ]]; then
                printf '%-58s %12s %12s %7.2fx (median ratio, load %s)\n' "$path" "" "" "$r" "$(cut -d' ' -f1 /proc/loadavg)"
            fi
            if [[ "$path" == "/$TGZ_PATH" ]]; then target=0.8; what="GET tarball ($(stat -c %s "$TREE/$TGZ_PATH") B)"; else target=1.0; what="GET $path"; fi
            result "$what" "$(printf '%s\n' "${ours_rps[@]}" | median | xargs printf '%.0f req/s')" \
                "nginx $(printf '%s\n' "${peer_rps[@]}" | median | xargs printf '%.0f req/s')" \
                "$(printf '%.2fx' "$r")" ">= ${target}x" "$(verdict "$r" "$target")"
        done
        echo "   tarball size: $(stat -c %s "$TREE/$TGZ_PATH") bytes; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
    fi
fi

# --- instructions ---------------------------------------------------------------------------
# The same GETs as `http`, counted in instructions instead of seconds: each server runs under
# valgrind's callgrind, one request warms it, the counters are zeroed, wrk sends requests for a
# few seconds, the counters are dumped; instructions / requests is one request's cost in user
# space (the kernel is not counted). The same binary and requests give the same count whatever
# else the machine is doing, so a change of a few percent shows where wrk's req/s cannot.
callgrind_per_request() { # pid base path -> instructions per request (or nothing)
    local pid="$1" url="$2$3" out n dump
    curl -fsS -o /dev/null "$url" || return 0
    callgrind_control -z "$pid" >/dev/null 2>&1 || return 0
    out="$(wrk -t1 -c4 -d"${BENCH_INSTR_SECONDS:-3}"s "$url" 2>&1)"
    n="$(awk '/requests in/ {print $1}' <<<"$out")"
    callgrind_control -d "$pid" >/dev/null 2>&1 || return 0
    dump="$(ls -t "$WORK"/cg-"$pid".out.* 2>/dev/null | awk 'NR == 1')"
    [[ -n "$dump" && -n "$n" && "$n" -gt 0 ]] || return 0
    awk -v n="$n" '/^(summary|totals):/ {printf "%.0f\n", $2 / n; exit}' "$dump"
}
start_callgrind() { # command... -> sets CG_PID
    valgrind --tool=callgrind --callgrind-out-file="$WORK/cg-%p.out" "$@" >>"$WORK/callgrind.log" 2>&1 &
    CG_PID=$!
    PIDS+=("$CG_PID")
}
if want instructions; then
    if ! have valgrind || ! have callgrind_control || ! have wrk || ! have nginx; then
        skip instructions "needs valgrind (callgrind_control), wrk and nginx"
    else
        echo
        echo "== instructions: user-space instructions per request under callgrind, ours vs nginx (lower is better)"
        port=$(free_port)
        start_callgrind "$BIN/registry-server" --log-format json serve --data-dir "$WORK/data" \
            --listen "127.0.0.1:$port" --writes-per-minute 100000000
        ours_pid=$CG_PID ours_base="http://127.0.0.1:$port"
        wait_http "$ours_base/readyz" || true
        if [[ -n "$BASELINE_BIN" ]]; then
            port=$(free_port)
            start_callgrind "$BASELINE_BIN" --log-format json serve --data-dir "$WORK/data" \
                --listen "127.0.0.1:$port" --writes-per-minute 100000000
            base_pid=$CG_PID base_base="http://127.0.0.1:$port"
            wait_http "$base_base/readyz" || true
        fi
        # nginx as one process (no master), so callgrind sees the process that serves.
        port=$(free_port)
        sed -e "s|listen 127.0.0.1:[0-9]*;|listen 127.0.0.1:$port;|" -e "s|^pid .*|pid $WORK/nginx-cg.pid;|" \
            "$WORK/nginx-$NGINX_PORT.conf" >"$WORK/nginx-cg.conf"
        start_callgrind "$NGINX" -c "$WORK/nginx-cg.conf" -p "$WORK" -e "$WORK/nginx-error.log" \
            -g "daemon off; master_process off;"
        nginx_pid=$CG_PID nginx_base="http://127.0.0.1:$port"
        wait_http "$nginx_base/v1/index.json" || true
        printf '%-58s %12s %12s %12s %8s\n' "GET" "ours" "${BASELINE_BIN:+baseline}" "nginx" "ours/ng"
        for path in "/.well-known/openwop-registry" "/v1/index.json" "/v1/packs/$PACK" "/$MANIFEST_PATH" \
            "/security/advisories.json" "/$TGZ_PATH"; do
            a="$(callgrind_per_request "$ours_pid" "$ours_base" "$path")"
            c=""
            [[ -n "$BASELINE_BIN" ]] && c="$(callgrind_per_request "$base_pid" "$base_base" "$path")"
            b="$(callgrind_per_request "$nginx_pid" "$nginx_base" "$path")"
            if [[ -n "$a" && -n "$b" ]]; then
                r="$(echo "$a / $b" | bc -l)"
                printf '%-58s %12s %12s %12s %7.2fx\n' "$path" "$a" "$c" "$b" "$r"
                result "instructions per GET $path" "$a" "nginx $b" "$(printf '%.2fx' "$r")" "-" "context"
            else
                echo "   $path: no count (see $WORK/callgrind.log)"
            fi
        done
        for pid in "$ours_pid" "${base_pid:-}" "$nginx_pid"; do [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; done
    fi
fi

# --- publish --------------------------------------------------------------------------------
if want publish; then
    echo
    PUBLISH_TMP="${BENCH_PUBLISH_DIR:-${TMPDIR:-/tmp}}"
    # On ext4 without a journal (these VMs' root file system) creating a file walks past every
    # inode deleted in the last 60 s (360 s while its inode-table block is dirty): files a build
    # or an earlier run deleted just before slow the four blob files of every publish (see
    # docs/performance-log.md, 2026-11-27 09:15). The row names the file system measured.
    PUBLISH_FS="$(df -T "$PUBLISH_TMP" | awk 'NR == 2 {print $2}')"
    echo "== publish: cargo bench -p registry-server --bench publish, SQLite files on $PUBLISH_FS (load $(cut -d' ' -f1 /proc/loadavg))"
    (cd "$REPO" && TMPDIR="$PUBLISH_TMP" cargo bench -q -p registry-server --bench publish 2>&1) | grep -E "^publish/" >"$WORK/publish.txt" || true
    sed 's/^/   /' "$WORK/publish.txt"
    publish_rate() { awk -v b="$1" 'index($0, "publish/" b ":") == 1 {for (i = 1; i < NF; i++) if ($(i + 1) == "publishes/s") print $i}' "$WORK/publish.txt"; }
    sqlite_rate="$(publish_rate SqliteFs)"
    if [[ -n "$sqlite_rate" ]]; then
        result "publish, SQLite + directory ($PUBLISH_FS)" "$sqlite_rate/s" "-" "-" ">= 500/s" "$(verdict "$sqlite_rate" 500)"
    fi
    pg_rate="$(publish_rate PostgresS3)"
    # The PostgreSQL + S3 row's peer: the S3 server's own PUT rate, with the same 16 clients and
    # no registry in front. A publish stores two blobs there (tarball, signature; on S3 the SBOM
    # and the statement go into the database), so this rate / 2 is the publish rate that server
    # allows at best.
    if [[ -n "${OPENWOP_TEST_S3_ENDPOINT:-}" ]]; then
        bucket="openwop-bench-ceiling-$$"
        if curl -fsS -X PUT "$OPENWOP_TEST_S3_ENDPOINT/$bucket" -o /dev/null 2>/dev/null; then
            head -c 4096 /dev/urandom >"$WORK/blob"
            for i in $(seq 1 2000); do
                printf 'url = "%s/%s/o%d"\nupload-file = "%s"\noutput = /dev/null\n' \
                    "$OPENWOP_TEST_S3_ENDPOINT" "$bucket" "$i" "$WORK/blob"
            done >"$WORK/put.cfg"
            start=$(date +%s.%N)
            if ! curl -fsS --no-progress-meter --parallel --parallel-max 16 -K "$WORK/put.cfg"; then
                echo "   (some PUTs to the S3 server failed: the rate below is not a ceiling)"
            fi
            secs=$(echo "$(date +%s.%N) - $start" | bc -l)
            s3_ceiling="$(echo "1000 / $secs" | bc -l)"
            printf '   S3 server alone (curl, 2000 PUTs of 4 KiB, 16 at a time): %.0f PUT/s = %.0f publishes/s at 2 blobs each\n' \
                "$(echo "2000 / $secs" | bc -l)" "$s3_ceiling"
        else
            echo "   (could not create a bucket at $OPENWOP_TEST_S3_ENDPOINT for the S3 ceiling)"
        fi
    fi
    if [[ -n "$pg_rate" ]]; then
        if [[ -n "${s3_ceiling:-}" ]]; then
            peer="$(printf 'S3 alone allows %.0f/s' "$s3_ceiling")" ratio="$(printf '%.2fx' "$(echo "$pg_rate / $s3_ceiling" | bc -l)")"
        else
            peer="-" ratio="-"
        fi
        result "publish, PostgreSQL + S3" "$pg_rate/s" "$peer" "$ratio" ">= 100/s" "$(verdict "$pg_rate" 100)"
    fi
fi

# --- rss --------------------------------------------------------------------------------------
if want rss; then
    VERSIONS="${BENCH_VERSIONS:-10000}"
    echo
    echo "== rss: registry-server with $VERSIONS synthetic versions (load $(cut -d' ' -f1 /proc/loadavg))"
    (cd "$REPO" && BENCH_POPULATE="$WORK/synthetic" BENCH_VERSIONS="$VERSIONS" \
        cargo bench -q -p registry-server --bench publish 2>&1) | grep populated | sed 's/^/   /'
    RSS_PORT=$(free_port)
    RSS_BASE="http://127.0.0.1:$RSS_PORT"
    /usr/bin/time -v "$BIN/registry-server" serve --data-dir "$WORK/synthetic" --listen "127.0.0.1:$RSS_PORT" \
        >/dev/null 2>"$WORK/rss.txt" &
    rss_pid=$!
    wait_http "$RSS_BASE/readyz"
    server_pid="$(pgrep -P "$rss_pid" || echo "$rss_pid")"
    echo "   RSS idle: $(ps -o rss= -p "$server_pid") KiB"
    if have wrk; then
        echo "   cold /v1/index.json under wrk -c32: $(rps "$RSS_BASE/v1/index.json") req/s, RSS $(ps -o rss= -p "$server_pid") KiB"
    fi
    for i in $(seq 0 $(((VERSIONS + 9) / 10 - 1))); do
        printf 'url = "%s/v1/packs/vendor.acme.bench%d"\noutput = /dev/null\n' "$RSS_BASE" "$i"
    done >"$WORK/curl.cfg"
    curl -fsS -K "$WORK/curl.cfg" || true
    echo "   after every pack index: RSS $(ps -o rss= -p "$server_pid") KiB"
    if have wrk; then
        echo "   warm /v1/index.json ($(curl -fsS "$RSS_BASE/v1/index.json" | wc -c) bytes): $(rps "$RSS_BASE/v1/index.json") req/s"
    fi
    kill -INT "$server_pid" 2>/dev/null || true
    wait "$rss_pid" 2>/dev/null || true
    grep -E "Maximum resident set size" "$WORK/rss.txt" | sed 's/^\s*/   peak: /'
    peak_kib="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/rss.txt")"
    if [[ -n "$peak_kib" ]]; then
        peak_mb="$(echo "$peak_kib / 1024" | bc -l)"
        result "server RSS, $VERSIONS versions (peak)" "$(printf '%.1f MB' "$peak_mb")" "-" "-" "<= 100 MB" \
            "$(verdict "$peak_mb" 100 at_most)"
    fi
fi

# --- verify -----------------------------------------------------------------------------------
if want verify; then
    if ! have hyperfine; then
        skip verify "needs hyperfine"
    else
        echo
        echo "== verify: the whole fixture tree in a cold process, against a straightforward single-threaded"
        echo "   verifier (bench/peers/naive-verify.mjs, Node) and pack-verify on one core (load $(cut -d' ' -f1 /proc/loadavg))"
        peers=(-n "pack-verify (all cores)" "$BIN/pack-verify registry $TREE"
            -n "pack-verify --jobs 1" "$BIN/pack-verify registry $TREE --jobs 1")
        # The floor under any verifier of this tree: reading the files it reads (all but the SBOMs)
        # with `cat`, in one process and in two at once (one per core here), and starting a
        # process at all. No target: they say how much of the cold time is the kernel's.
        find "$TREE" -type f ! -name '*.sbom.json' | sort >"$WORK/verify-files.txt"
        nfiles="$(wc -l <"$WORK/verify-files.txt")"
        peers+=(-n "read floor: cat, one process" "cat $(tr '\n' ' ' <"$WORK/verify-files.txt")"
            -n "read floor: cat, two processes" "xargs -a $WORK/verify-files.txt -P 2 -n $(((nfiles + 1) / 2)) cat"
            -n "process floor: pack-verify --version" "$BIN/pack-verify --version")
        if have node; then
            peers+=(-n "naive verifier (node)" "node $REPO/bench/peers/naive-verify.mjs $TREE")
        else
            echo "   (node missing: the naive peer is skipped)"
        fi
        hyperfine -N --warmup 3 --runs 20 --export-json "$WORK/verify.json" "${peers[@]}" 2>&1 \
            | grep -v '^\s*$' | sed 's/^/   /'
        cold="$(hyperfine_mean "$WORK/verify.json" "pack-verify (all cores)")"
        naive="$(hyperfine_mean "$WORK/verify.json" "naive verifier (node)")"
        if [[ -n "$cold" && -n "$naive" ]]; then
            r="$(echo "$naive / $cold" | bc -l)"
            result "verify the fixture registry, cold" "$(printf '%.1f ms' "$(echo "$cold * 1000" | bc -l)")" \
                "$(printf 'Node %.1f ms' "$(echo "$naive * 1000" | bc -l)")" "$(printf '%.2fx' "$r")" ">= 15x" "$(verdict "$r" 15)"
        fi
        floor="$(hyperfine_mean "$WORK/verify.json" "read floor: cat, two processes")"
        if [[ -n "$cold" && -n "$floor" ]]; then
            r="$(echo "$cold / $floor" | bc -l)"
            result "verify cold vs reading its $nfiles files" "$(printf '%.1f ms' "$(echo "$cold * 1000" | bc -l)")" \
                "$(printf '2x cat %.1f ms' "$(echo "$floor * 1000" | bc -l)")" "$(printf '%.2fx' "$r")" "-" "context"
        fi
    fi
fi

# --- batch ------------------------------------------------------------------------------------
if want batch; then
    echo
    echo "== batch: cargo bench -p pack-verify --bench verify_registry, check_all vs ed25519 verify_batch (load $(cut -d' ' -f1 /proc/loadavg))"
    (cd "$REPO" && OPENWOP_FIXTURES="$OPENWOP_FIXTURES" cargo bench -q -p pack-verify --bench verify_registry -- \
        --warm-up-time 1 --measurement-time 5 'verify_registry/(check_all|ed25519_verify_batch)$' 2>&1) >"$WORK/batch.txt" || true
    # The ids and their times (not criterion's "change" against an earlier run, in per cent).
    tr '\r' '\n' <"$WORK/batch.txt" | grep -E "time:|^verify_registry/" | grep -v '%' | tr -s ' ' | sed 's/^/   /' || true
    ours_ms="$(criterion_ms "$WORK/batch.txt" verify_registry/check_all)"
    limit_ms="$(criterion_ms "$WORK/batch.txt" verify_registry/ed25519_verify_batch)"
    if [[ -n "$ours_ms" && -n "$limit_ms" ]]; then
        r="$(echo "$ours_ms / $limit_ms" | bc -l)"
        result "verify in process vs batch limit" "$(printf '%.2f ms' "$ours_ms")" "$(printf 'verify_batch %.2f ms' "$limit_ms")" \
            "$(printf '%.2fx' "$r")" "<= 2x" "$(verdict "$r" 2 at_most)"
        if [[ -n "${cold:-}" ]]; then
            r="$(echo "$cold * 1000 / $limit_ms" | bc -l)"
            result "verify cold vs batch limit" "$(printf '%.1f ms' "$(echo "$cold * 1000" | bc -l)")" \
                "$(printf 'verify_batch %.2f ms' "$limit_ms")" "$(printf '%.2fx' "$r")" "<= 2x" "$(verdict "$r" 2 at_most)"
        fi
    else
        echo "   (no criterion figures: OPENWOP_FIXTURES unset for the bench, or it failed; see above)"
    fi
fi

# --- install ----------------------------------------------------------------------------------
if want install; then
    if ! have hyperfine || ! have nginx; then
        skip install "needs hyperfine and nginx"
    else
        INST_PORT=$(free_port)
        # A second nginx over the fixture tree itself (the static reference registry).
        start_nginx "$TREE" "$INST_PORT"
        BASE="http://127.0.0.1:$INST_PORT"
        wait_http "$BASE/v1/index.json"
        # Where the host directories, caches and extractions go: the work directory's file
        # system, or BENCH_INSTALL_DIR (e.g. /dev/shm, to take the disk's file system out).
        if [[ -n "${BENCH_INSTALL_DIR:-}" ]]; then IW="$(mktemp -d -p "$BENCH_INSTALL_DIR")"; else IW="$WORK"; fi
        INSTALL_FS="$(df -T "$IW" | awk 'NR == 2 {print $2}')"
        mkdir -p "$IW/consumer"
        printf 'registry = "%s"\n[registries."%s"]\ntrust = "%s"\n' "$BASE" "$BASE" "$TRUST" >"$IW/consumer/pack.toml"
        # The probes' host directories stay until the end (see the trash directory below for why
        # nothing is deleted while installs are measured).
        PROBED=""
        probe_specs "$BASE" "$IW"
        N="${#SPECS[@]}"
        export OPENWOP_PACK_CONFIG="$IW/consumer/pack.toml" PACK_CACHE_DIR="$IW/consumer/cache"
        cd "$IW/consumer"
        # Between runs the host directory and the cache are moved into a trash directory, not
        # deleted. On ext4 without a journal (these VMs' root file system) the inode allocator
        # skips, one by one, every inode deleted in the last 60 s (360 s while its inode-table
        # block is dirty), so an install right after
        # `rm -rf` of the previous one spent most of its time in that scan (warm 418 ms, mostly
        # system time, against 87 ms after a `mv`, 2026-11-27): it measured the harness's deletion.
        TRASH="$IW/trash"
        mkdir -p "$TRASH"
        aside() { printf "bash -c 'for d in %s; do [ -e \"\$d\" ] && mv \"\$d\" \"\$(mktemp -d -p %s)\"/; done; true'" "$*" "$TRASH"; }
        echo
        echo "== install: pack install of the $N fixture packs that install alone${PROBED:+ (of $PROBED)}, cold cache vs warm cache, from nginx, files on $INSTALL_FS (load $(cut -d' ' -f1 /proc/loadavg))"
        install_cmd="$BIN/pack --json install ${SPECS[*]} --host-dir host"
        if ! $install_cmd >"$WORK/install.json" 2>"$WORK/install.err"; then
            echo "   pack install of all $N failed; first error:" >&2
            head -c 600 "$WORK/install.json" "$WORK/install.err" >&2 || true
        fi
        # The peer holds exactly the versions the install chose (its lockfile): a tree with those
        # versions' manifest, tarball and signature, and pack indexes listing only them. Without
        # a lockfile (the install above failed) there is no peer, and no ratio.
        PEER_BASE=""
        if [[ -f "$IW/consumer/host/pack-lock.json" ]]; then
        python3 - "$TREE" "$IW/consumer/host/pack-lock.json" "$WORK/chosen" "$WORK/chosen-urls.txt" <<'EOF'
import json, os, sys
tree, lock, out, urls = sys.argv[1:]
chosen = {p["name"]: p["version"] for p in json.load(open(lock))["packs"]}
def link(rel):
    os.makedirs(os.path.dirname(os.path.join(out, rel)), exist_ok=True)
    os.symlink(os.path.join(tree, rel), os.path.join(out, rel))
for top in ("keys", "security"):
    for dirpath, _, files in os.walk(os.path.join(tree, top)):
        for f in files:
            link(os.path.relpath(os.path.join(dirpath, f), tree))
index = json.load(open(os.path.join(tree, "v1/index.json")))
index["packs"] = [p for p in index["packs"] if p.get("name") in chosen]
os.makedirs(os.path.join(out, "v1"), exist_ok=True)
json.dump(index, open(os.path.join(out, "v1/index.json"), "w"), indent=2)
with open(urls, "w") as u:
    for name, version in sorted(chosen.items()):
        pack = json.load(open(os.path.join(tree, "v1/packs", name, "index.json")))
        pack["versions"] = [v for v in pack["versions"] if v.get("version") == version]
        os.makedirs(os.path.join(out, "v1/packs", name, "-"))
        json.dump(pack, open(os.path.join(out, "v1/packs", name, "index.json"), "w"), indent=2)
        for ext in ("json", "tgz", "sig"):
            rel = f"v1/packs/{name}/-/{version}.{ext}"
            link(rel)
            u.write(rel + "\n")
EOF
        PEER_PORT=$(free_port)
        start_nginx "$WORK/chosen" "$PEER_PORT"
        PEER_BASE="http://127.0.0.1:$PEER_PORT"
        wait_http "$PEER_BASE/v1/index.json"
        fi
        hyperfine -N --warmup 1 --runs 5 --prepare "$(aside "$IW/consumer/cache" "$IW/consumer/host")" \
            --export-json "$WORK/install-cold.json" -n cold "$install_cmd" 2>&1 | grep -v '^\s*$' | sed 's/^/   /' || true
        hyperfine -N --warmup 1 --runs 10 --prepare "$(aside "$IW/consumer/host")" \
            --export-json "$WORK/install-warm.json" -n warm "$install_cmd" 2>&1 | grep -v '^\s*$' | sed 's/^/   /' || true
        # The raw cost of the same versions: downloading their files (curl, one connection), and
        # downloading plus verifying them (`pack-verify registry` over HTTP: indexes, manifests,
        # tarballs, signatures, every check an install makes, nothing written to disk).
        if [[ -n "$PEER_BASE" ]]; then
        hyperfine -N --warmup 1 --runs 5 --export-json "$WORK/install-raw.json" -n raw \
            "curl -fsS -o /dev/null --parallel-max 1 $(sed "s|^|$PEER_BASE/|" "$WORK/chosen-urls.txt" | tr '\n' ' ' | head -c 2000000)" 2>&1 \
            | grep -v '^\s*$' | sed "s/raw/raw download (curl, $(wc -l <"$WORK/chosen-urls.txt") files, 1 connection)/" \
            | sed 's/^/   /' || true
        hyperfine -N --warmup 1 --runs 10 --export-json "$WORK/install-verify.json" -n verify \
            "$BIN/pack-verify registry $PEER_BASE --trust $TRUST" 2>&1 \
            | grep -v '^\s*$' | sed "s/verify/download + verify (pack-verify registry over HTTP, the same $N versions)/" \
            | sed 's/^/   /' || true
        fi
        # The file-creation floor under an install: the newest tarball of each of the same packs
        # extracted with tar, one after another (no download, no verification). On a file system
        # where creating a file is slow, this, not the download, is the cost to compare with.
        printf '%s\n' "${SPECS[@]}" >"$WORK/specs.txt"
        cat >"$WORK/extract.sh" <<'EOF'
set -e
while read -r name; do
    tgz=$(ls "$2/v1/packs/$name/-/"*.tgz | sort -V | awk 'END {print}')
    mkdir -p "$1/$name" && tar -xzf "$tgz" -C "$1/$name"
done <"$3"
EOF
        hyperfine -N --runs 5 --prepare "$(aside "$IW/extract")" \
            -n "tar -xzf of the $N packs' newest tarballs, one after another" \
            --export-json "$WORK/install-tar.json" "bash $WORK/extract.sh $IW/extract $TREE $WORK/specs.txt" 2>&1 \
            | grep -v '^\s*$' | sed 's/^/   /' || true
        raw="$(hyperfine_mean "$WORK/install-raw.json" raw 2>/dev/null)" || raw=""
        verify="$(hyperfine_mean "$WORK/install-verify.json" verify 2>/dev/null)" || verify=""
        untar="$(hyperfine_mean "$WORK/install-tar.json" "tar -xzf of the $N packs' newest tarballs, one after another")"
        for kind in cold warm; do
            t="$(hyperfine_mean "$WORK/install-$kind.json" "$kind")"
            [[ -n "$t" && -n "$verify" ]] || continue
            peer="$(printf 'download + verify %.0f ms' "$(echo "$verify * 1000" | bc -l)")"
            [[ -n "$raw" ]] && peer+="$(printf ' (download alone %.0f ms)' "$(echo "$raw * 1000" | bc -l)")"
            [[ -n "$untar" ]] && peer+="$(printf ', tar -xzf %.0f ms' "$(echo "$untar * 1000" | bc -l)")"
            result "install $N packs, $kind cache ($INSTALL_FS)" "$(printf '%.0f ms' "$(echo "$t * 1000" | bc -l)")" "$peer" \
                "$(printf '%.2fx dl+verify' "$(echo "$t / $verify" | bc -l)")" "measured" "-"
        done
        cd "$REPO"
        [[ "$IW" == "$WORK" ]] || rm -rf "$IW"
        unset OPENWOP_PACK_CONFIG PACK_CACHE_DIR
    fi
fi

# --- remote -----------------------------------------------------------------------------------
if want remote; then
    if ! have hyperfine || ! have nginx || ! have openssl; then
        skip remote "needs hyperfine, nginx and openssl"
    else
        RTT="${BENCH_RTT_MS:-20}"
        make_certs
        RW="$(mktemp -d -p "${BENCH_INSTALL_DIR:-$WORK}")"
        REMOTE_FS="$(df -T "$RW" | awk 'NR == 2 {print $2}')"
        declare -A REMOTE_BASE
        for proto in h1 h2; do
            port=$(free_port)
            start_nginx "$TREE" "$port" "$proto"
            proxy=$(free_port)
            python3 "$REPO/bench/latency_proxy.py" "$proxy" "$port" "$(echo "$RTT / 2" | bc -l)" &
            PIDS+=($!)
            REMOTE_BASE[$proto]="https://127.0.0.1:$proxy"
            mkdir -p "$RW/$proto"
            printf 'registry = "%s"\n[registries."%s"]\ntrust = "%s"\n' "${REMOTE_BASE[$proto]}" "${REMOTE_BASE[$proto]}" \
                "$TRUST" >"$RW/$proto/pack.toml"
        done
        export SSL_CERT_FILE="$WORK/tls/ca.pem"
        for _ in $(seq 1 100); do curl -fsS -o /dev/null --cacert "$SSL_CERT_FILE" "${REMOTE_BASE[h2]}/v1/index.json" 2>/dev/null && break; sleep 0.05; done
        probe_specs "${REMOTE_BASE[h2]}" "$RW"
        N="${#SPECS[@]}"
        echo
        echo "== remote: pack install of $N fixture packs from nginx $RTT ms away over TLS (bench/latency_proxy.py), HTTP/1.1 alone vs HTTP/2 offered, files on $REMOTE_FS (load $(cut -d' ' -f1 /proc/loadavg))"
        TRASH="$RW/trash"
        mkdir -p "$TRASH"
        aside() { printf "bash -c 'for d in %s; do [ -e \"\$d\" ] && mv \"\$d\" \"\$(mktemp -d -p %s)\"/; done; true'" "$*" "$TRASH"; }
        cmds=()
        for proto in h1 h2; do
            # One script per protocol, so hyperfine's names stay short and its runs see the env.
            printf '#!/bin/sh\ncd %s && OPENWOP_PACK_CONFIG=%s PACK_CACHE_DIR=%s exec %s --json install %s --host-dir host >/dev/null\n' \
                "$RW/$proto" "$RW/$proto/pack.toml" "$RW/$proto/cache" "$BIN/pack" "${SPECS[*]}" >"$RW/install-$proto.sh"
            chmod +x "$RW/install-$proto.sh"
        done
        for kind in cold warm; do
            for proto in h1 h2; do
                if [[ "$kind" == cold ]]; then prep="$(aside "$RW/$proto/cache" "$RW/$proto/host")"; else prep="$(aside "$RW/$proto/host")"; fi
                [[ "$kind" == warm ]] && "$RW/install-$proto.sh"
                hyperfine -N --warmup 1 --runs 5 --prepare "$prep" --export-json "$RW/$kind-$proto.json" \
                    -n "$kind, $proto" "$RW/install-$proto.sh" 2>&1 | grep -v '^\s*$' | sed 's/^/   /' || true
            done
        done
        # The download floor at this distance: the files of the versions the HTTP/2 install chose,
        # fetched by curl over HTTP/2, 100 streams at once.
        curl_s=""
        if [[ -f "$RW/h2/host/pack-lock.json" ]]; then
            python3 - "$RW/h2/host/pack-lock.json" "${REMOTE_BASE[h2]}" >"$RW/urls.txt" <<'EOF'
import json, sys
for p in json.load(open(sys.argv[1]))["packs"]:
    for ext in ("json", "tgz", "sig"):
        print(f"{sys.argv[2]}/v1/packs/{p['name']}/-/{p['version']}.{ext}")
EOF
            hyperfine -N --warmup 1 --runs 5 --export-json "$RW/curl.json" -n curl \
                "curl -fsS --cacert $SSL_CERT_FILE --http2 --parallel --parallel-max 100 -o /dev/null $(tr '\n' ' ' <"$RW/urls.txt")" 2>&1 \
                | grep -v '^\s*$' | sed "s/curl/download alone (curl --http2, 100 streams, $(wc -l <"$RW/urls.txt") files)/" \
                | sed 's/^/   /' || true
            curl_s="$(hyperfine_mean "$RW/curl.json" curl 2>/dev/null)" || curl_s=""
        fi
        for kind in cold warm; do
            h1="$(hyperfine_mean "$RW/$kind-h1.json" "$kind, h1")" || h1=""
            h2="$(hyperfine_mean "$RW/$kind-h2.json" "$kind, h2")" || h2=""
            [[ -n "$h1" && -n "$h2" ]] || continue
            peer="$(printf 'over HTTP/1.1 %.0f ms' "$(echo "$h1 * 1000" | bc -l)")"
            [[ -n "$curl_s" ]] && peer+="$(printf ' (curl h2 %.0f ms)' "$(echo "$curl_s * 1000" | bc -l)")"
            result "install $N packs $RTT ms away, $kind, HTTP/2" "$(printf '%.0f ms' "$(echo "$h2 * 1000" | bc -l)")" "$peer" \
                "$(printf '%.2fx faster' "$(echo "$h1 / $h2" | bc -l)")" "measured" "-"
        done
        # A host verifying the whole registry from afar: 16 connections over HTTP/1.1, 100 streams
        # of one connection when the server answers over HTTP/2.
        if [[ -x "$BIN/pack-verify" ]]; then
            echo
            echo "== remote: pack-verify registry of the fixture tree $RTT ms away over TLS, HTTP/1.1 alone vs HTTP/2 offered (load $(cut -d' ' -f1 /proc/loadavg))"
            for proto in h1 h2; do
                hyperfine -N --warmup 1 --runs 5 --export-json "$RW/verify-$proto.json" -n "verify, $proto" \
                    "$BIN/pack-verify registry ${REMOTE_BASE[$proto]}" 2>&1 | grep -v '^\s*$' | sed 's/^/   /' || true
            done
            h1="$(hyperfine_mean "$RW/verify-h1.json" "verify, h1" 2>/dev/null)" || h1=""
            h2="$(hyperfine_mean "$RW/verify-h2.json" "verify, h2" 2>/dev/null)" || h2=""
            if [[ -n "$h1" && -n "$h2" ]]; then
                result "verify the registry $RTT ms away, HTTP/2" "$(printf '%.0f ms' "$(echo "$h2 * 1000" | bc -l)")" \
                    "$(printf 'over HTTP/1.1 %.0f ms' "$(echo "$h1 * 1000" | bc -l)")" \
                    "$(printf '%.2fx faster' "$(echo "$h1 / $h2" | bc -l)")" "measured" "-"
            fi
        fi
        unset SSL_CERT_FILE
        rm -rf "$RW"
    fi
fi

# --- resolve ----------------------------------------------------------------------------------
if want resolve; then
    if [[ -f "$REPO/pack-cli/benches/resolve.rs" ]]; then
        echo
        echo "== resolve: cargo bench -p pack-cli --bench resolve (load $(cut -d' ' -f1 /proc/loadavg))"
        (cd "$REPO" && cargo bench -q -p pack-cli --bench resolve -- --warm-up-time 1 --measurement-time 5 2>&1) \
            >"$WORK/resolve.txt" || true
        grep -E "time:|^resolved|^[a-z_/0-9]+$" "$WORK/resolve.txt" | sed 's/^/   /' || true
        ms="$(criterion_ms "$WORK/resolve.txt" resolve/synthetic_10k_packs)"
        if [[ -n "$ms" ]]; then
            result "resolve 10,000-pack graph" "$(printf '%.0f ms' "$ms")" "-" "-" "<= 1000 ms" "$(verdict "$ms" 1000 at_most)"
        fi
    else
        skip resolve "pack-cli/benches/resolve.rs is missing"
    fi
fi
echo
echo "== summary: ours against the peer measured in this run (docs/performance.md has the targets)"
if [[ -s "$SUMMARY" ]]; then
    printf '   %-44s %-14s %-40s %-12s %-11s %s\n' measure ours peer ratio target verdict
    while IFS=$'\t' read -r what ours peer ratio target verdict; do
        printf '   %-44s %-14s %-40s %-12s %-11s %s\n' "$what" "$ours" "$peer" "$ratio" "$target" "$verdict"
    done <"$SUMMARY"
else
    echo "   (no figures: every chosen section was skipped)"
fi
echo
echo "== done ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
