#!/usr/bin/env bash
# `sam build` of infra/template.yaml as on a fresh machine, then `sam validate --lint`.
#
# Usage: scripts/sam-build.sh [VENV_DIR] [ARCH]
#   VENV_DIR  Python virtualenv to install into (default: .venv at the repository root)
#   ARCH      x86_64 (default here) or arm64 (the template's default, what `sam deploy` ships)
#
# - Installs cargo-lambda (which brings zig, for cross-linking) and the AWS SAM CLI from PyPI into
#   VENV_DIR, and the Rust target for ARCH with rustup when it is missing.
# - Builds every function with SAM's rust-cargolambda builder for provided.al2023. The builder
#   runs `cargo lambda build --release --bin <binary>` in the function's crate (CodeUri:
#   ../functions/<binary>), so cargo selects that one package and unifies features over its own
#   dependencies only: from the workspace root it would select every member and build each
#   function with the features any member enables (import-statements' S3 and SQS clients grew every
#   other bootstrap by about 140 KB). All functions still share the workspace's target directory
#   (target/<triple>/release), and functions with the same dependencies compile them once; the
#   bootstraps land in target/lambda/<binary>/ and are copied to <build dir>/<LogicalId>/.
# - Not `--cached`: cargo's own fingerprints make an unchanged rebuild take seconds, and SAM's
#   checksum of a crate's directory misses changes in the crates it depends on.
# - The tests run on x86_64 and start the built bootstraps natively (tests/tests/lambda_runtime_api.rs
#   with KENPO_BOOTSTRAP_DIR=.aws-sam/build-x86_64), so the test command builds x86_64; arm64 is
#   built the same way (`scripts/sam-build.sh .venv arm64`, into .aws-sam/build for `sam deploy`),
#   its bootstraps just cannot run on this x86_64 machine.
# - Prints each function's bootstrap and zip size (and writes them to target/sam-build-<ARCH>.txt).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$ROOT/.venv}"
ARCH="${2:-x86_64}"
case "$VENV" in
    /*) ;;
    *) VENV="$PWD/$VENV" ;;
esac
# arm64 goes where `sam deploy` looks (.aws-sam/build); the x86_64 test build goes beside it, so a
# later `sam deploy` (Architecture arm64 by default) can never ship x86_64 bootstraps by mistake.
case "$ARCH" in
    x86_64) TRIPLE=x86_64-unknown-linux-gnu; ELF_MACHINE=62; BUILD_DIR="$ROOT/.aws-sam/build-x86_64" ;;
    arm64) TRIPLE=aarch64-unknown-linux-gnu; ELF_MACHINE=183; BUILD_DIR="$ROOT/.aws-sam/build" ;;
    *) echo "sam-build.sh: ARCH must be x86_64 or arm64, not $ARCH" >&2; exit 2 ;;
esac
# Pinned: what this was measured with (docs/DEPLOY.md).
SAM_PKGS=("cargo-lambda==1.9.2" "aws-sam-cli==1.170.0")

t0=$SECONDS
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/cargo-lambda" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${SAM_PKGS[@]}"
fi
if ! rustup target list --installed | grep -qx "$TRIPLE"; then
    rustup target add "$TRIPLE"
fi
echo "sam-build: tools ready ($((SECONDS - t0))s): $("$VENV/bin/cargo-lambda" lambda --version 2>/dev/null | head -n1), $("$VENV/bin/sam" --version)"

cd "$ROOT"
export PATH="$VENV/bin:$PATH"
export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-ap-northeast-1}"
export CARGO_TERM_COLOR=never

t1=$SECONDS
sam validate --lint
echo "sam-build: sam validate --lint OK ($((SECONDS - t1))s)"

t2=$SECONDS
# From the repository root, without -t: samconfig.toml's build section names the template.
sam build --beta-features --parallel --no-cached --build-dir "$BUILD_DIR" --parameter-overrides "Architecture=$ARCH"
echo "sam-build: sam build ($ARCH) done in $((SECONDS - t2))s"

# Every function built, for the right machine; sizes as `sam deploy` will upload them (zip, deflate).
"$VENV/bin/python" - "$BUILD_DIR" "$ELF_MACHINE" "$ARCH" "$ROOT/infra/template.yaml" <<'PY' | tee "$ROOT/target/sam-build-$ARCH.txt"
import io, json, os, re, struct, subprocess, sys, zipfile
build, machine, arch, template = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
# Logical id -> binary, from the template's resources as deployed (its Fn::ForEach loops expanded)
# (Metadata: BuildProperties: Binary: <name>).
expand = os.path.join(os.path.dirname(os.path.dirname(template)), "scripts", "expand-template.py")
resources = json.loads(subprocess.run([sys.executable, expand, template], check=True, capture_output=True, text=True).stdout)
binaries = {
    logical_id: r["Metadata"]["BuildProperties"]["Binary"]
    for logical_id, r in resources.items()
    if r.get("Type") == "AWS::Serverless::Function"
}
if not binaries:
    sys.exit("sam-build: no rust-cargolambda functions found in the template")
# Functions that share one binary (import-statements: the check pass and the chunk writers) are
# built once, into "<first LogicalId>-Shared" (the built template's CodeUri); give every function its
# <LogicalId>/ directory (a symlink) so that the checks below and KENPO_BOOTSTRAP_DIR find each.
with open(os.path.join(build, "template.yaml")) as f:
    built = f.read()
for logical_id in binaries:
    m = re.search(r"^  " + re.escape(logical_id) + r":\n(?:    .*\n|\n)*?      CodeUri: (\S+)$", built, re.M)
    own = os.path.join(build, logical_id)
    if m and not os.path.exists(own) and os.path.isdir(os.path.join(build, m.group(1))):
        os.symlink(m.group(1), own)
print(f"{'function':<28} {'binary':<20} {'bootstrap':>11} {'zip':>11}  ({arch})")
total = 0
for logical_id, binary in sorted(binaries.items()):
    path = os.path.join(build, logical_id, "bootstrap")
    if not os.path.isfile(path):
        sys.exit(f"sam-build: {path} was not built")
    with open(path, "rb") as f:
        head = f.read(20)
    if head[:4] != b"\x7fELF" or struct.unpack_from("<H", head, 18)[0] != machine:
        sys.exit(f"sam-build: {path} is not an ELF executable for {arch}")
    if not os.access(path, os.X_OK):
        sys.exit(f"sam-build: {path} is not executable")
    # provided.al2023 has glibc 2.34: a bootstrap linked against newer symbols would not start there
    # (an x86_64 build links against this machine's glibc, not zig's).
    with open(path, "rb") as f:
        needed = {int(m) for m in re.findall(rb"GLIBC_2\.(\d+)", f.read())}
    if needed and max(needed) > 34:
        sys.exit(f"sam-build: {path} needs GLIBC_2.{max(needed)}, provided.al2023 has 2.34")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "bootstrap")
    size, zipped = os.path.getsize(path), len(buf.getvalue())
    total += zipped
    print(f"{logical_id:<28} {binary:<20} {size / 1e6:>8.2f} MB {zipped / 1e6:>8.2f} MB")
print(f"{'total':<28} {'':<20} {'':>11} {total / 1e6:>8.2f} MB")
# Layers (the documents' font): their whole folder as one zip, as `sam deploy` uploads it.
for logical_id, r in sorted(resources.items()):
    if r.get("Type") != "AWS::Serverless::LayerVersion":
        continue
    folder = os.path.join(build, logical_id)
    if not os.path.isdir(folder):
        sys.exit(f"sam-build: layer {logical_id} was not built")
    buf, size = io.BytesIO(), 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for base, _, files in os.walk(folder):
            for name in sorted(files):
                path = os.path.join(base, name)
                size += os.path.getsize(path)
                z.write(path, os.path.relpath(path, folder))
    print(f"{logical_id:<28} {'(layer)':<20} {size / 1e6:>8.2f} MB {len(buf.getvalue()) / 1e6:>8.2f} MB")
PY
echo "sam-build: bootstraps in $BUILD_DIR/<LogicalId>/bootstrap (KENPO_BOOTSTRAP_DIR=$BUILD_DIR); total $((SECONDS - t0))s"
