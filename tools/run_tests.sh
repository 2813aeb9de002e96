#!/usr/bin/env bash
# Runs every check and test suite (static checks: ruff, mypy, import-linter; forge; pytest; `pip install .`), prints
# each one's summary, and exits non-zero when any part fails or when a suite ran no test at all. Called by
# `make test`, which `.ci/run` calls.
set -uo pipefail
cd "$(dirname "$0")/.."

log_dir=$(mktemp -d)
status=0

# static checks: each runs even when an earlier one failed, so one run shows every problem
check() {
  local name=$1; shift
  echo "==> $name"
  if "$@"; then checks+=("$name: ok"); else checks+=("$name: FAILED"); echo "FAIL: $name"; status=1; fi
}
checks=()
check "ruff check" .venv/bin/ruff check oracle tests benchmarks tools
check "ruff format" .venv/bin/ruff format --check oracle tests benchmarks tools
check "mypy" .venv/bin/mypy
check "import layers" .venv/bin/lint-imports --no-cache
# a `# type: ignore[code]` must say why after it: `# type: ignore[code]  # because ...`
check "type-ignore reasons" bash -c '! grep -rnE "type: ignore(\[[^]]*\])?\s*$" oracle'

echo "==> forge test"
node_modules/.bin/forge test 2>&1 | tee "$log_dir/forge.log"
forge_rc=${PIPESTATUS[0]}
forge_summary=$(grep -E '^Ran [0-9]+ test suites' "$log_dir/forge.log" | tail -n 1)
forge_passed=$(sed -nE 's/.* ([0-9]+) tests passed.*/\1/p' <<<"$forge_summary")
if [[ $forge_rc -ne 0 ]]; then
  echo "FAIL: forge test exited $forge_rc"; status=1
elif [[ -z "$forge_passed" || "$forge_passed" -eq 0 ]]; then
  echo "FAIL: forge ran no test"; status=1
fi

echo "==> pytest"
.venv/bin/python -m pytest -p no:cacheprovider -n 2 --dist loadgroup 2>&1 | tee "$log_dir/pytest.log"
pytest_rc=${PIPESTATUS[0]}
pytest_summary=$(grep -E '^=+ .*(passed|failed|error|no tests ran).* =+$' "$log_dir/pytest.log" | tail -n 1)
if [[ $pytest_rc -eq 5 ]]; then
  echo "FAIL: pytest collected no test"; status=1
elif [[ $pytest_rc -ne 0 ]]; then
  echo "FAIL: pytest exited $pytest_rc"; status=1
elif grep -qE '[0-9]+ skipped' <<<"$pytest_summary"; then
  echo "FAIL: pytest skipped tests (a skip must not hide a missing tool)"; status=1
fi

# the package as a user installs it (pip install ., not editable) runs the demo to the end
check "installed package" tools/check_install.sh

echo
echo "==> summary"
printf 'check   %s\n' "${checks[@]}"
echo "forge:  ${forge_summary:-no summary} (exit $forge_rc)"
echo "pytest: ${pytest_summary:-no summary} (exit $pytest_rc)"
if [[ $status -ne 0 ]]; then
  echo "TESTS FAILED"
else
  echo "ALL TESTS PASSED"
fi
rm -rf "$log_dir"
exit $status
