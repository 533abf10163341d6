#!/usr/bin/env bash
# Every test of kenpo-web, from a fresh machine: installs what it needs (Debian's chromium, fonts
# and poppler-utils, a local Python virtualenv with moto and cfn-lint, the browser test's npm packages), starts moto on
# 127.0.0.1, builds the workspace once (dev profile, one target dir) and runs:
#   1. cargo test --workspace  (unit, property, handler, store contract on embedded + DynamoDB/moto,
#      SES v2/moto, welcome mail, dev server end to end, routes = template)
#   2. cfn-lint on infra/template.yaml, and its expansion against tests/fixtures/template-resources.json
#   3. the screens in headless Chromium (Playwright + axe-core)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
export CARGO_TERM_COLOR=never
mkdir -p "$ROOT/target" "$ROOT/artifacts"

step() { printf '\n==> %s (%ss)\n' "$*" "$SECONDS"; }

step "Debian packages: chromium, fonts (the screens' and the documents'), poppler-utils (pdftotext, pdftoppm)"
# Debian's Chromium (never a downloaded browser) and Japanese fonts for the screenshots; the
# documents' font (fonts-ipaexfont-gothic: the PDFs, and the Lambda's font layer at sam build) and
# poppler to read the PDFs back.
APT_PKGS=(chromium fonts-noto-cjk fonts-ipaexfont-gothic poppler-utils)
if ! dpkg -s "${APT_PKGS[@]}" > /dev/null 2>&1 || [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${APT_PKGS[@]}" > /dev/null
fi

step "python virtualenv: moto, cfn-lint"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY_PKGS=("moto[server]==5.2.5" "cfn-lint==1.58.0" "cfn-lint-serverless" "schemathesis==4.32.5")
if ! "$VENV/bin/python" -c 'import moto, cfnlint, cfn_lint_serverless, schemathesis' 2>/dev/null; then
  "$VENV/bin/pip" install -q "${PY_PKGS[@]}"
fi

step "moto server on 127.0.0.1"
MOTO_PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# moto with its DynamoDB transactions made atomic and isolated (scripts/moto-server.py says why).
"$VENV/bin/python" scripts/moto-server.py -H 127.0.0.1 -p "$MOTO_PORT" > "$ROOT/target/moto.log" 2>&1 &
MOTO_PID=$!
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/')" 2>/dev/null; then break; fi
  sleep 0.2
done
export KENPO_MOTO_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
# Only for the emulator: moto accepts any credentials.
export AWS_ACCESS_KEY_ID=moto-test AWS_SECRET_ACCESS_KEY=moto-test AWS_REGION=ap-northeast-1 AWS_DEFAULT_REGION=ap-northeast-1
export AWS_EC2_METADATA_DISABLED=true

# Every server and Lambda the tests start logs here; the scan at the end looks for personal data.
export KENPO_LOG_DIR="$ROOT/artifacts/logs"
rm -rf "$KENPO_LOG_DIR" && mkdir -p "$KENPO_LOG_DIR"

step "cargo build (dev profile, once for the binaries and the tests)"
cargo build --workspace --bins --tests --quiet
export KENPO_BIN="$ROOT/target/debug/kenpo"

step "cargo test"
cargo test --workspace --quiet 2>&1 | tee "$ROOT/target/cargo-test.log"

step "load: 2000 onboardings, 50 concurrent members, two tabs, double clicks (embedded store)"
"$ROOT/target/debug/kenpo-load" --store embedded --onboardings 2000 --concurrency 50 > "$ROOT/artifacts/load-embedded.out"
tail -n 25 "$ROOT/artifacts/load-embedded.out"

step "load: 200 onboardings, 50 concurrent members (DynamoDB and SES v2 on moto)"
"$ROOT/target/debug/kenpo-load" --store dynamodb --onboardings 200 --concurrency 50 > "$ROOT/artifacts/load-dynamodb.out"
tail -n 25 "$ROOT/artifacts/load-dynamodb.out"

step "hostile input: schemathesis from docs/openapi.yaml against kenpo dev"
bash scripts/schemathesis.sh "$VENV" "$ROOT/target/debug/kenpo" 400 | tee "$ROOT/artifacts/schemathesis.out" | grep -E "generated|Failures|ST[0-9]+" || true
grep -qE "[0-9]+ generated, [0-9]+ passed" "$ROOT/artifacts/schemathesis.out" || { echo "schemathesis did not pass"; exit 1; }

step "cfn-lint infra/template.yaml"
bash scripts/lint-template.sh "$VENV"

step "sam build (cargo-lambda, provided.al2023; x86_64 so the tests can run what it built) and sam validate --lint"
bash scripts/sam-build.sh "$VENV" x86_64

step "the built bootstraps, started as Lambda starts them, against a Runtime API stub"
KENPO_BOOTSTRAP_DIR="$ROOT/.aws-sam/build-x86_64" cargo test -p kenpo-tests --test lambda_runtime_api --quiet

if [ -d tests/browser ]; then
  step "screens in headless Chromium"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && node --test)
fi

step "log scan: no birth date, address, token or key in any log line"
python3 scripts/scan-logs.py "$KENPO_LOG_DIR"

step "all tests passed"
