#!/usr/bin/env bash
# Checks the REST gateway against its own OpenAPI document with schemathesis
# (PyPI): every operation of GET /openapi.json, with generated valid and
# invalid input, on SQLite and on Postgres (a fresh database next to
# TEST_DATABASE_URL). A run fails on any 5xx, any status code the document
# does not list, any response (JSON or SSE event) that does not match its
# schema, and any wrong content type.
#
#   bash .ci/schemathesis.sh target/debug/statusgate
#
# The servers simulate a worker and WAF propagation, so that requests and
# tokens the run creates finish and their watches end. Bounded: a fixed
# number of examples per operation and a fixed seed (SCHEMATHESIS_EXAMPLES,
# SCHEMATHESIS_SEED to change them).
set -euo pipefail

fail() {
    printf 'schemathesis: FAILED: %s\n' "$*" >&2
    exit 1
}
note() { printf '==> %s\n' "$*"; }

[ $# -eq 1 ] || fail "usage: bash .ci/schemathesis.sh path/to/statusgate"
[ -x "$1" ] || fail "$1 is not an executable statusgate binary"
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
command -v python3 >/dev/null || fail "python3 is required"
command -v psql >/dev/null || fail "psql is required (the Postgres run makes its own database)"
examples="${SCHEMATHESIS_EXAMPLES:-40}"
seed="${SCHEMATHESIS_SEED:-20261202}"
admin_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
database="statusgate_schemathesis_$$"

work="$(mktemp -d)"
server_pid=""
stop_server() {
    [ -n "$server_pid" ] || return 0
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
cleanup() {
    stop_server
    psql "$admin_url" -qAtc "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

note "installing schemathesis into a throwaway virtualenv"
python3 -m venv "$work/venv" || fail "cannot create a virtualenv (is python3-venv installed?)"
if ! "$work/venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4.32,<5' >"$work/pip.log" 2>&1; then
    cat "$work/pip.log" >&2
    fail "pip install schemathesis"
fi
"$work/venv/bin/schemathesis" --version

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# run_against NAME DATABASE_URL
run_against() {
    local name="$1" url="$2" http_port grpc_port
    http_port="$(free_port)"
    grpc_port="$(free_port)"
    note "statusgate on $name (HTTP $http_port)"
    "$binary" --database-url "$url" \
        --http-listen "127.0.0.1:$http_port" --grpc-listen "127.0.0.1:$grpc_port" \
        --simulate-provisioning 200ms --simulate-propagation 200ms \
        >"$work/server-$name.log" 2>&1 &
    server_pid=$!
    local ready=no
    for _ in $(seq 1 150); do
        kill -0 "$server_pid" 2>/dev/null || { cat "$work/server-$name.log" >&2; fail "statusgate exited during start-up"; }
        if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
            "http://127.0.0.1:$http_port/openapi.json" 2>/dev/null; then
            ready=yes
            break
        fi
        sleep 0.2
    done
    [ "$ready" = yes ] || { cat "$work/server-$name.log" >&2; fail "statusgate did not serve /openapi.json within 30 s"; }

    note "schemathesis on $name: $examples examples per operation, seed $seed"
    if ! "$work/venv/bin/schemathesis" run "http://127.0.0.1:$http_port/openapi.json" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
        --phases examples,coverage,fuzzing \
        --max-examples "$examples" --seed "$seed" \
        --request-timeout 15 --workers 2 \
        --suppress-health-check all \
        >"$work/schemathesis-$name.log" 2>&1; then
        cat "$work/schemathesis-$name.log"
        printf '\n--- server log (last 50 lines) ---\n'
        tail -n 50 "$work/server-$name.log"
        fail "schemathesis found problems on $name"
    fi
    sed -n '/SUMMARY/,$p' "$work/schemathesis-$name.log"
    if grep -qE '"level":"(ERROR|WARN)"|\bERROR\b|panicked' "$work/server-$name.log"; then
        grep -E '\bERROR\b|panicked' "$work/server-$name.log" | head -n 20 || true
        fail "the server logged errors during the $name run"
    fi
    stop_server
}

run_against sqlite "sqlite://$work/statusgate.db"

psql "$admin_url" -qAtc "CREATE DATABASE $database" >/dev/null || fail "cannot create database $database at $admin_url"
postgres_url="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$admin_url" "$database")"
run_against postgres "$postgres_url"

note "schemathesis passed on both backends"
