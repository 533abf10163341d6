#!/usr/bin/env bash
# Lint the SAM template with cfn-lint and the serverless rules (cfn-lint-serverless), and check that
# its Fn::ForEach loops expand to the resources recorded in tests/fixtures/template-resources.json.
# Usage: scripts/lint-template.sh [VENV_DIR]   (default: .venv at the repository root)
# Installs cfn-lint and cfn-lint-serverless into the virtualenv if they are missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$ROOT/.venv}"
case "$VENV" in
    /*) ;;
    *) VENV="$PWD/$VENV" ;;
esac

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if [ ! -x "$VENV/bin/cfn-lint" ] || ! "$VENV/bin/python" -c 'import cfnlint, cfn_lint_serverless' >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check cfn-lint cfn-lint-serverless
fi

cd "$ROOT"
"$VENV/bin/cfn-lint" -a cfn_lint_serverless.rules -t infra/template.yaml
echo "cfn-lint: infra/template.yaml OK"
# The Fn::ForEach loops expand to the recorded resources (cfn-lint's PyYAML is all it needs).
# After an intended change to what is deployed: scripts/expand-template.py > tests/fixtures/template-resources.json
"$VENV/bin/python" scripts/expand-template.py infra/template.yaml | diff -u tests/fixtures/template-resources.json -
echo "expand-template: infra/template.yaml deploys the resources of tests/fixtures/template-resources.json"
