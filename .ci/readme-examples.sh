#!/usr/bin/env bash
# Runs the AWS CLI and boto3 examples of the README (the fenced ```sh and
# ```python blocks between the aws-clients markers) against a real statusgate
# and checks each against the ```text block that follows it, so the README
# cannot rot; the REST section's curl examples run the same way against the
# same server. Then it starts a second statusgate with --auth sigv4 and runs
# .ci/signed_clients.py: real signatures from boto3, botocore's presigner and
# the AWS CLI, right and wrong. Between them, the README's simulation section
# runs the same way against a server started with the section's ```json rules
# file, and .ci/cloudcontrol_clients.py drives resources with boto3 through
# two replicas on SQLite and on Postgres (a fresh database next to
# TEST_DATABASE_URL). In expected output, a lower-case `<name>` matches one
# word that differs from run to run (a UUID, a time, a count); whitespace runs
# and blank lines are not significant.
#
#   bash .ci/readme-examples.sh target/debug/statusgate
#
# Needs python3 with venv, curl, and PyPI (awscli and boto3 are installed into
# a throwaway virtualenv). The server listens on 127.0.0.1:8080, the address
# the examples use, with an SQLite file in a temporary directory; it is always
# stopped, whatever happens.
set -euo pipefail

fail() {
    printf 'readme-examples: FAILED: %s\n' "$*" >&2
    exit 1
}
note() { printf '==> %s\n' "$*"; }

[ $# -eq 1 ] || fail "usage: bash .ci/readme-examples.sh path/to/statusgate"
[ -f "$1" ] && [ -x "$1" ] || fail "$1 is not an executable statusgate binary"
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
ci_dir="$(cd "$(dirname "$0")" && pwd)"
readme="$(dirname "$ci_dir")/README.md"
[ -f "$readme" ] || fail "no README.md at $readme"
command -v python3 >/dev/null || fail "python3 is required"
command -v curl >/dev/null || fail "curl is required"

work="$(mktemp -d)"
server_pid=""

stop_server() {
    [ -n "$server_pid" ] || return 0
    if kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}
cleanup() {
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

note "installing awscli and boto3 into a throwaway virtualenv"
python3 -m venv "$work/venv" || fail "cannot create a virtualenv (is python3-venv installed?)"
if ! "$work/venv/bin/pip" install --quiet --disable-pip-version-check awscli boto3 >"$work/pip.log" 2>&1; then
    cat "$work/pip.log" >&2
    fail "pip install awscli boto3"
fi
export PATH="$work/venv/bin:$PATH"
"$work/venv/bin/aws" --version

# Only the README's credentials count: not this machine's profiles, config
# or instance metadata.
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
    AWS_DEFAULT_REGION AWS_REGION AWS_ENDPOINT_URL
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true

port_is_taken() {
    python3 -c 'import socket, sys; s = socket.socket(); s.settimeout(1); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}
port_is_taken 8080 && fail "127.0.0.1:8080 is in use; the README's examples need it"
grpc_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

note "starting statusgate on 127.0.0.1:8080 (gRPC on $grpc_port)"
# A credentials key, so that the REST section's credential calls work.
STATUSGATE_CREDENTIALS_KEY="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')" \
"$binary" --database-url "sqlite://$work/statusgate.db" \
    --http-listen 127.0.0.1:8080 --grpc-listen "127.0.0.1:$grpc_port" \
    >"$work/server.log" 2>&1 &
server_pid=$!
ready=no
for _ in $(seq 1 150); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$work/server.log" >&2
        fail "statusgate exited during start-up"
    fi
    # Any HTTP answer will do (GET / without parameters is a 400).
    if curl -s -o /dev/null --max-time 1 http://127.0.0.1:8080/; then
        ready=yes
        break
    fi
    sleep 0.2
done
if [ "$ready" != yes ]; then
    cat "$work/server.log" >&2
    fail "statusgate did not answer on 127.0.0.1:8080 within 30 s"
fi

note "running the README's examples"
cat >"$work/examples.py" <<'PYTHON'
"""Extracts the README's examples, runs them in one shell, checks their output."""

import pathlib
import re
import subprocess
import sys

readme, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
section_name = sys.argv[3] if len(sys.argv) > 3 else "aws-clients"
BEGIN, END = f"<!-- {section_name}:begin -->", f"<!-- {section_name}:end -->"


def die(message):
    print(f"readme-examples: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


text = readme.read_text()
if BEGIN not in text or END not in text:
    die(f"{readme} lacks the {BEGIN} / {END} markers")
section = text.split(BEGIN, 1)[1].split(END, 1)[0]
blocks = re.findall(r"^```(\w*)\n(.*?)^```[ \t]*$", section, re.M | re.S)

# (language, code, expected output or None)
examples = []
for index, (language, body) in enumerate(blocks):
    if language in ("sh", "python"):
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        expected = following[1] if following and following[0] == "text" else None
        examples.append((language, body, expected))
    elif language == "text":
        if index == 0 or blocks[index - 1][0] not in ("sh", "python"):
            die("a ```text block must follow a ```sh or ```python block")
    elif language == "json":
        # A file the server is started with (the simulation rules), not run.
        pass
    else:
        die(f"unsupported block language {language!r} between the markers")
if not examples:
    die("no ```sh or ```python examples between the markers")

# One shell for all of them, in README order, so variables carry over; each
# example's output goes to its own file, and `current` says which one runs.
runner = ["set -euo pipefail"]
for number, (language, code, _) in enumerate(examples, 1):
    runner.append(f'echo {number} > "{work}/current"')
    runner.append(f'exec > "{work}/example-{number}.out" 2>&1')
    if language == "sh":
        runner.append(code)
    else:
        runner.append(f"python - <<'README_PYTHON_EXAMPLE'\n{code}README_PYTHON_EXAMPLE")
runner.append(f'echo done > "{work}/current"')
(work / "runner.sh").write_text("\n".join(runner) + "\n")
for stale in work.glob("example-*.out"):
    stale.unlink()

try:
    completed = subprocess.run(["bash", str(work / "runner.sh")], cwd=work, timeout=300)
    failure = None if completed.returncode == 0 else f"exit status {completed.returncode}"
except subprocess.TimeoutExpired:
    failure = "no end within 300 s"
if failure:
    current = (work / "current").read_text().strip()
    if current.isdigit():
        number = int(current)
        language, code, _ = examples[number - 1]
        output_file = work / f"example-{number}.out"
        output = output_file.read_text() if output_file.exists() else ""
        die(f"example {number} ({language}) failed: {failure}\n--- example\n{code}--- output\n{output}")
    die(f"the examples failed: {failure}")


def normalised(text):
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def pattern(line):
    literal_parts = re.split(r"<[a-z]+>", line)
    return re.compile("".join(["^", r"\S+".join(map(re.escape, literal_parts)), "$"]))


mismatches = 0
checked = 0
for number, (language, code, expected) in enumerate(examples, 1):
    output = (work / f"example-{number}.out").read_text()
    if expected is None:
        continue
    checked += 1
    actual_lines, expected_lines = normalised(output), normalised(expected)
    matches = len(actual_lines) == len(expected_lines) and all(
        pattern(wanted).match(got) for wanted, got in zip(expected_lines, actual_lines)
    )
    if not matches:
        mismatches += 1
        print(
            f"readme-examples: example {number} ({language}) printed something else\n"
            f"--- example\n{code}--- expected\n{expected}--- actual\n{output}",
            file=sys.stderr,
        )
if mismatches:
    die(f"{mismatches} of {checked} checked examples printed something unexpected")
print(f"{len(examples)} examples ran, {checked} outputs matched the README")
PYTHON
python3 "$work/examples.py" "$readme" "$work" || {
    printf -- '--- server log\n' >&2
    tail -n 50 "$work/server.log" >&2
    fail "README examples"
}

note "running the README's REST examples with curl"
python3 "$work/examples.py" "$readme" "$work" rest-clients || {
    printf -- '--- server log\n' >&2
    tail -n 50 "$work/server.log" >&2
    fail "README REST examples"
}

stop_server
note "README examples passed"

# The simulation section: its ```json block is the rules file the servers
# start with; its examples run like the ones above, then boto3 drives
# resources through two replicas, on SQLite and on Postgres.
rules="$work/simulation-rules.json"
python3 - "$readme" "$rules" <<'PYTHON' || fail "the README's simulation section has no rules file"
import pathlib, re, sys
text = pathlib.Path(sys.argv[1]).read_text()
section = text.split("<!-- simulation:begin -->", 1)[1].split("<!-- simulation:end -->", 1)[0]
blocks = re.findall(r"^```json\n(.*?)^```[ \t]*$", section, re.M | re.S)
if not blocks:
    sys.exit(1)
pathlib.Path(sys.argv[2]).write_text(blocks[0])
PYTHON

replica_pid=""
stop_replica() {
    [ -n "$replica_pid" ] || return 0
    kill -TERM "$replica_pid" 2>/dev/null || true
    wait "$replica_pid" 2>/dev/null || true
    replica_pid=""
}
trap 'stop_replica; cleanup' EXIT

# start_simulating NAME DATABASE_URL HTTP_PORT GRPC_PORT: a server with the
# README's rules, its pid in $started_pid.
start_simulating() {
    "$binary" --database-url "$2" --simulate-provisioning 300ms --simulation-rules "$rules" \
        --http-listen "127.0.0.1:$3" --grpc-listen "127.0.0.1:$4" >"$work/$1.log" 2>&1 &
    started_pid=$!
    for _ in $(seq 1 150); do
        if ! kill -0 "$started_pid" 2>/dev/null; then
            cat "$work/$1.log" >&2
            fail "statusgate ($1) exited during start-up"
        fi
        if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$3/healthz"; then
            return 0
        fi
        sleep 0.2
    done
    cat "$work/$1.log" >&2
    fail "statusgate ($1) did not answer within 30 s"
}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
replica_http="$(free_port)"
replica_grpc="$(free_port)"

note "starting statusgate with the README's simulation rules on 127.0.0.1:8080 (SQLite)"
simulated_database="sqlite://$work/simulated.db"
"$binary" migrate --database-url "$simulated_database" >"$work/migrate-simulated.log" 2>&1 || {
    cat "$work/migrate-simulated.log" >&2
    fail "statusgate migrate"
}
start_simulating simulated-server "$simulated_database" 8080 "$grpc_port"
server_pid=$started_pid
python3 "$work/examples.py" "$readme" "$work" simulation || {
    printf -- '--- server log\n' >&2
    tail -n 50 "$work/simulated-server.log" >&2
    fail "README simulation examples"
}
note "README simulation examples passed"

for backend in sqlite postgres; do
    if [ "$backend" = postgres ]; then
        stop_server
        [ -n "${TEST_DATABASE_URL:-}" ] || fail "TEST_DATABASE_URL names no Postgres for the boto3 checks"
        database_name="statusgate_ci_boto3_$$"
        psql "$TEST_DATABASE_URL" -qAtc "DROP DATABASE IF EXISTS $database_name" >/dev/null
        psql "$TEST_DATABASE_URL" -qAtc "CREATE DATABASE $database_name" >/dev/null \
            || fail "cannot create database $database_name"
        database="${TEST_DATABASE_URL%/*}/$database_name"
        "$binary" migrate --database-url "$database" >"$work/migrate-postgres.log" 2>&1 || {
            cat "$work/migrate-postgres.log" >&2
            fail "statusgate migrate (postgres)"
        }
        start_simulating postgres-server "$database" 8080 "$grpc_port"
        server_pid=$started_pid
    else
        database="$simulated_database"
    fi
    start_simulating "$backend-replica" "$database" "$replica_http" "$replica_grpc"
    replica_pid=$started_pid
    note "boto3 against two replicas on $backend"
    "$work/venv/bin/python" "$ci_dir/cloudcontrol_clients.py" \
        http://127.0.0.1:8080 "http://127.0.0.1:$replica_http" || {
        printf -- '--- server logs\n' >&2
        tail -n 30 "$work"/*server.log "$work/$backend-replica.log" >&2
        fail "boto3 Cloud Control checks on $backend"
    }
    stop_replica
done
stop_server
psql "$TEST_DATABASE_URL" -qAtc "DROP DATABASE IF EXISTS $database_name" >/dev/null || true
note "boto3 Cloud Control checks passed on SQLite and Postgres"

note "starting statusgate with --auth sigv4 on 127.0.0.1:8080"
export STATUSGATE_CREDENTIALS_KEY="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
signed_database="sqlite://$work/signed.db"
"$binary" migrate --database-url "$signed_database" >"$work/migrate.log" 2>&1 || {
    cat "$work/migrate.log" >&2
    fail "statusgate migrate"
}
"$binary" --auth sigv4 --database-url "$signed_database" \
    --http-listen 127.0.0.1:8080 --grpc-listen "127.0.0.1:$grpc_port" \
    >"$work/signed-server.log" 2>&1 &
server_pid=$!
ready=no
for _ in $(seq 1 150); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        cat "$work/signed-server.log" >&2
        fail "statusgate --auth sigv4 exited during start-up"
    fi
    if curl -s -o /dev/null --max-time 1 http://127.0.0.1:8080/healthz; then
        ready=yes
        break
    fi
    sleep 0.2
done
[ "$ready" = yes ] || fail "statusgate --auth sigv4 did not answer within 30 s"
"$work/venv/bin/python" "$ci_dir/signed_clients.py" http://127.0.0.1:8080 "$binary" "$signed_database" || {
    printf -- '--- server log\n' >&2
    tail -n 50 "$work/signed-server.log" >&2
    fail "signed client checks"
}
stop_server
note "signed client checks passed"
