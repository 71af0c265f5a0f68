#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when they are missing.
# poppler-utils: pdftotext/pdftoppm to read and rasterise rendered PDFs.
# libharfbuzz-subset0: font subsetting in C for WeasyPrint (else pure Python, ~5x slower).
# chromium: the dashboard browser tests (Playwright drives /usr/bin/chromium; no playwright install).
# PostgreSQL 15 server binaries come with the base image; the tests start their own server.
set -euo pipefail
need=()
for pkg in poppler-utils libharfbuzz-subset0 fonts-dejavu-core chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "The tests need these Debian packages: ${need[*]}. Install them (as root: apt-get install ${need[*]}) and re-run." >&2
    exit 1
  fi
  echo "installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "installing postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
