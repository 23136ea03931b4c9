#!/usr/bin/env bash
# The newest releases inside pyproject.toml's ranges, tested: installs the project with its dev and
# ray extras into a fresh virtual environment WITHOUT the lock (so pip takes the newest release of
# every package that the ranges allow), prints how those versions differ from the lock, and runs
# the test suite's fast part (not the tests marked slow) against them.
#
#   bash requirements/newest.sh                 # check: does the next release of anything break us?
#   bash requirements/newest.sh --write-lock    # the same, then, if the tests pass, refresh the lock
#   FULL=1 bash requirements/newest.sh          # the whole suite, slow tests included
#   VENV=/tmp/newest bash requirements/newest.sh   # keep the environment there (default: a temporary folder)
#
# Extra arguments go to pytest. Run it before a release, monthly, or when a dependency ships a new
# major version; if it passes, refresh the lock with --write-lock and commit requirements/test-lock.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

write_lock=0
if [ "${1:-}" = "--write-lock" ]; then
  write_lock=1
  shift
fi
PYTHON=${PYTHON:-python3}
VENV=${VENV:-$(mktemp -d)/venv}
LOCK=requirements/test-lock.txt

echo "=== a fresh environment in $VENV, the newest releases inside pyproject.toml's ranges"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q -e '.[dev,ray]'
fresh=$(mktemp)
"$VENV/bin/pip" freeze --all --exclude-editable | grep -v -i -E '^(pip)==' | sort -f >"$fresh"

echo "=== how they differ from $LOCK (< locked, > newest)"
if diff <(grep -v '^#' "$LOCK" | sort -f) "$fresh"; then
  echo "(no difference: the lock holds the newest releases)"
fi

echo "=== the tests against the newest releases"
markers=(-m "not slow")
[ "${FULL:-0}" = 1 ] && markers=()
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "${markers[@]}" "$@"

if [ "$write_lock" = 1 ]; then
  platform=$("$VENV/bin/python" -c 'import platform, sys; print(f"CPython {sys.version_info[0]}.{sys.version_info[1]}, {platform.system()} {platform.machine()}")')
  {
    echo "# The exact versions the tests and the paper-exact numbers were verified with: every package"
    echo "# that pip install -e '.[dev,ray]' resolved to on $(date -u +%Y-%m-%d), on $platform."
    echo "# .ci/run and the README's test command install with it as constraints (pip install -c ...)."
    echo "# Users install with pyproject.toml's ranges. Refresh: bash requirements/newest.sh --write-lock"
    echo "# platform: $platform"
    cat "$fresh"
  } >"$LOCK"
  echo "=== wrote $LOCK: review its diff and commit it"
fi
