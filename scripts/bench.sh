#!/usr/bin/env bash
# Benchmarks (docs/PERFORMANCE.md): cold start against the Lambda Runtime API stub beside a baseline
# function, the first DynamoDB request after a cold start on a throttled CPU (moto over TLS), peak
# RSS over whole onboardings, DynamoDB requests and cost per onboarding, warm per-handler cost,
# `kenpo dev` throughput, bootstrap and zip sizes. Results are ratios against a baseline measured in
# the same run; nothing here asserts a time.
#
# Usage: scripts/bench.sh [--quick] [--skip-build] [--only cold,db,flow,cost,size,warm,load,reads,import,notices]
#   --quick       fewer runs (cold 5, db 3, flow 30 onboardings)
#   --skip-build  use the bootstraps already in target/lambda (scripts/sam-build.sh or an earlier run)
#
# Needs: root (the CPU limit is a cgroup: v2 cpu.max, or v1 cpu.cfs_quota_us), python3, openssl.
# Installs into .venv what is missing: moto[server]==5.2.5, cargo-lambda==1.9.2 (with zig).
# Everything listens and connects on 127.0.0.1 only. Results: stdout and artifacts/bench-*.json.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QUICK=0
BUILD=1
ONLY="cold,db,flow,cost,size,warm,load,reads,import"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --skip-build) BUILD=0 ;;
        --only) ONLY="$2"; shift ;;
        *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }
if [ "$QUICK" = 1 ]; then RUNS_COLD=5; RUNS_DB=3; FLOW=30; else RUNS_COLD=11; RUNS_DB=7; FLOW=100; fi

export CARGO_TERM_COLOR=never
VENV="$ROOT/.venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
[ -x "$VENV/bin/moto_server" ] || "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==5.2.5"
[ -x "$VENV/bin/cargo-lambda" ] || "$VENV/bin/pip" install -q --disable-pip-version-check "cargo-lambda==1.9.2"
export PATH="$VENV/bin:$PATH"
LAMBDA_DIR="$ROOT/target/lambda"
FUNCTIONS=$(ls -d functions/*/ | xargs -n1 basename)

echo "== machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%MZ)"

# ---- build: release bootstraps as `sam build` makes them (cargo-lambda, x86_64 here), the baseline
# and the pre-warm variant the same way; the harness in the dev profile (it only times processes).
if [ "$BUILD" = 1 ]; then
    t=$SECONDS
    for f in $FUNCTIONS; do
        cargo lambda build --release --bin "$f" 2>&1 | tail -n1
    done
    # The baseline alone, so nothing but lambda_http and tokio is in it.
    cargo lambda build --release -p kenpo-bench --no-default-features --bin bench-baseline 2>&1 | tail -n1
    # verify-identity with the DynamoDB connection opened at init.
    cargo lambda build --release -p kenpo-bench --no-default-features --features variant --bin bench-prewarm 2>&1 | tail -n1
    # The by-the-book function (its own workspace, default SDK features), on the project's lock file.
    cp Cargo.lock bench/bythebook/Cargo.lock
    cargo lambda build --release --manifest-path bench/bythebook/Cargo.toml --lambda-dir "$LAMBDA_DIR" 2>&1 | tail -n1
    echo "== release bootstraps built in $((SECONDS - t))s"
fi
cargo build -q -p kenpo-bench --bin kenpo-coldstart --bin kenpo-cost
BIN="$ROOT/target/debug"

# ---- moto over TLS: a throwaway CA and a certificate for 127.0.0.1; the SDK trusts the CA through
# SSL_CERT_FILE (rustls-native-certs).
TLS="$ROOT/target/bench-tls"
if [ ! -f "$TLS/server.pem" ]; then
    mkdir -p "$TLS"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLS/ca.key" -out "$TLS/ca.pem" -days 30 -subj "/CN=kenpo-bench CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout "$TLS/server.key" -out "$TLS/server.csr" -subj "/CN=127.0.0.1" 2>/dev/null
    printf "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n" > "$TLS/ext.cnf"
    openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial -out "$TLS/server.pem" -days 30 -extfile "$TLS/ext.cnf" 2>/dev/null
fi
export SSL_CERT_FILE="$TLS/ca.pem"
MOTO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$VENV/bin/python" scripts/moto-server.py -H 127.0.0.1 -p "$MOTO_PORT" -c "$TLS/server.pem" -k "$TLS/server.key" > "$ROOT/target/bench-moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
ENDPOINT="https://127.0.0.1:$MOTO_PORT"
for _ in $(seq 1 100); do
    curl -s -o /dev/null --cacert "$SSL_CERT_FILE" "$ENDPOINT/moto-api/" && break
    sleep 0.2
done
echo "== moto over TLS on $ENDPOINT"

if want cold; then
    echo; echo "== cold start (spawn -> ready, spawn -> first answer) vs bench-baseline"
    "$BIN/kenpo-coldstart" cold --dir "$LAMBDA_DIR" --baseline "$LAMBDA_DIR/bench-baseline/bootstrap" --runs "$RUNS_COLD"
fi
if want db; then
    echo; echo "== first DynamoDB request after a cold start (moto over TLS), full CPU and a tenth of a core"
    "$BIN/kenpo-coldstart" db --dir "$LAMBDA_DIR" --baseline "$LAMBDA_DIR/bench-baseline/bootstrap" \
        --prewarm "$LAMBDA_DIR/bench-prewarm/bootstrap" --endpoint "$ENDPOINT" --runs "$RUNS_DB" --quota 10000 --period 100000
fi
if want flow; then
    echo; echo "== whole onboardings through every bootstrap: warm time per invocation, peak RSS"
    "$BIN/kenpo-coldstart" flow --dir "$LAMBDA_DIR" --endpoint "$ENDPOINT" --onboardings "$FLOW"
fi
if want cost; then
    echo; echo "== requests and cost per onboarding"
    "$BIN/kenpo-cost" --endpoint "$ENDPOINT" --onboardings 10
fi
if want size; then
    echo; echo "== bootstrap and zip sizes (deflate, as sam deploy uploads); goal: zip <= 3 MB"
    python3 - "$LAMBDA_DIR" <<'PY'
import io, os, sys, zipfile
d = sys.argv[1]
print(f"{'binary':<22} {'arch':<8} {'bootstrap':>11} {'zip':>9}  goal")
for name in sorted(os.listdir(d)):
    p = os.path.join(d, name, "bootstrap")
    if not os.path.isfile(p):
        continue
    with open(p, "rb") as f:
        head = f.read(20)
    arch = {62: "x86_64", 183: "arm64"}.get(int.from_bytes(head[18:20], "little"), "?")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(p, "bootstrap")
    size, zipped = os.path.getsize(p), len(buf.getvalue())
    print(f"{name:<22} {arch:<8} {size/1e6:>8.2f} MB {zipped/1e6:>6.2f} MB  {'met' if zipped <= 3e6 else 'NOT'}")
PY
    [ -f target/sam-build-arm64.txt ] && { echo "arm64 (what sam deploy ships), from scripts/sam-build.sh .venv arm64:"; cat target/sam-build-arm64.txt; }
fi
if want warm; then
    echo; echo "== warm per-request cost of each handler in-process (divan, embedded store)"
    # The bench profile inherits release (fat LTO, opt-level s): the numbers are what ships.
    cargo bench -q -p kenpo-bench --bench handlers 2>&1 | grep -v '^$'
fi
if want load; then
    echo; echo "== kenpo dev (release) throughput: whole onboardings, 2 tabs and double clicks (tests/src/bin/kenpo-load.rs)"
    cargo build -q --release --bin kenpo
    cargo build -q -p kenpo-tests --bin kenpo-load
    # kenpo-load writes artifacts/load-embedded.json (the test suite's artifact): keep that one.
    saved=$(mktemp); cp artifacts/load-embedded.json "$saved" 2>/dev/null || true
    KENPO_BIN="$ROOT/target/release/kenpo" "$ROOT/target/debug/kenpo-load" --store embedded --onboardings 2000 --concurrency 50 > target/bench-load.out || true
    cp artifacts/load-embedded.json artifacts/bench-load.json 2>/dev/null || true
    if [ -s "$saved" ]; then cp "$saved" artifacts/load-embedded.json; fi
    rm -f "$saved"
    grep -E '"(onboardings|concurrency|requests|seconds|onboardingsPerSecond|serverErrors)"' target/bench-load.out
fi
if want reads; then
    echo; echo "== the statements' reads: answer bytes, warm in-process cost, 50 members through kenpo dev (release; bench/src/bin/kenpo-reads.rs)"
    cargo build -q --release --bin kenpo
    cargo build -q --release -p kenpo-bench --bin kenpo-reads
    KENPO_BIN="$ROOT/target/release/kenpo" "$ROOT/target/release/kenpo-reads" --members 50 --seconds "$([ "$QUICK" = 1 ] && echo 3 || echo 10)"
fi
if want notices; then
    echo; echo "== the update notices at scale, simulated (release; bench/src/bin/kenpo-notices.rs): 100,000 members with news, 14 a second"
    cargo build -q --release -p kenpo-bench --bin kenpo-notices
    "$ROOT/target/release/kenpo-notices" "$([ "$QUICK" = 1 ] && echo 10000 || echo 100000)" 14
fi
if want import; then
    echo; echo "== the statements import (release; bench/src/bin/kenpo-import.rs): the streaming check of 1,000,000 lines, the embedded import, one BatchWriteItem / BatchGetItem and the S3 path on moto"
    cargo build -q --release -p kenpo-bench --bin kenpo-import
    IMPORT_BIN="$ROOT/target/release/kenpo-import"
    [ -s target/import-1m.csv ] || "$IMPORT_BIN" generate 1000000 target/import-1m.csv
    [ -s target/import-200k.csv ] || "$IMPORT_BIN" generate 200000 target/import-200k.csv
    "$IMPORT_BIN" check target/import-1m.csv
    "$IMPORT_BIN" embedded target/import-200k.csv
    "$IMPORT_BIN" batches "$ENDPOINT" "$([ "$QUICK" = 1 ] && echo 50 || echo 200)"
    "$IMPORT_BIN" moto "$ENDPOINT" 20000 2000 4
fi
