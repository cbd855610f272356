#!/usr/bin/env bash
# The test command: installs the test dependencies into .venv, then runs ruff, mypy and the
# suite on SQLite and (when reachable, and always in CI) on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
PG_URL=${READINGROOM_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/test}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]'

if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "note: bubblewrap is not installed (apt-get install bubblewrap); sandbox tests will report it" >&2
  fi
fi

echo "== ruff"
"$VENV/bin/ruff" check server schemas tests bench
echo "== mypy"
"$VENV/bin/mypy"

echo "== pytest on SQLite"
READINGROOM_TEST_DATABASE=sqlite "$VENV/bin/pytest" "$@"

if "$VENV/bin/python" -c "import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$PG_URL" 2>/dev/null; then
  echo "== pytest on PostgreSQL ($PG_URL)"
  READINGROOM_TEST_DATABASE="$PG_URL" "$VENV/bin/pytest" -m db "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "error: PostgreSQL is not reachable at $PG_URL" >&2
  exit 1
else
  echo "note: PostgreSQL not reachable at $PG_URL; skipped the PostgreSQL run" >&2
fi
