#!/usr/bin/env bash
# README's first command: the dev server (the whole system on http://127.0.0.1:3000 with the
# embedded store, demo data and the mail outbox), with the documents' Japanese font.
#
# Usage: scripts/dev.sh [kenpo dev options, e.g. --port 3001 --statements FILE]
#
# The PDFs need a Japanese font: Debian's fonts-ipaexfont-gothic (what the Lambda's font layer
# carries). Installed here when missing and this is root on Debian; otherwise kenpo dev says how to
# get it and the downloads answer 503 until then (DOCUMENT_FONT=/path/to/font.ttf points elsewhere).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
FONT=/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf
if [ -z "${DOCUMENT_FONT:-}" ] && [ ! -f "$FONT" ] && [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
  echo "dev.sh: installing fonts-ipaexfont-gothic (the PDFs' font) with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq fonts-ipaexfont-gothic > /dev/null || echo "dev.sh: apt-get failed; PDF downloads will answer 503" >&2
fi
exec cargo run --release --bin kenpo -- dev "$@"
