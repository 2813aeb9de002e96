#!/usr/bin/env bash
# `pip install .` (not editable, no dev extras) into a fresh venv must give a working `risk-oracle demo`: the
# model artifacts, ABIs, policies and templates are package data, nothing is found by walking up from the
# package. Runs the demo from a directory that is not the checkout (only node_modules, for anvil, comes from it).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check -c "$repo/constraints.txt" "$repo" 2>&1 \
  | grep -v "^WARNING: Location" || true
mkdir "$work/run"
cd "$work/run"  # not the checkout: `import oracle` must find the installed package
"$work/venv/bin/python" -c "import oracle; assert '$repo' not in oracle.__file__, oracle.__file__"
ORACLE_NODE_MODULES="$repo/node_modules" ORACLE_CACHE_DIR="$work/cache" \
  "$work/venv/bin/risk-oracle" demo --positions 40 --reports-dir "$work/run/reports" | tail -n 3
test -f "$work"/run/reports/demo/*/*/*/manifest.json  # reports/demo/<run>/<chain>/<block>-<cycle>/
echo "installed package: demo ran to the end"
