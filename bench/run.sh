#!/usr/bin/env bash
# statusgate performance benchmark: one command, one table.
#
#   bash bench/run.sh
#
# Installs what it lacks (h2load, wrk, pgbench/initdb; apt-get as root),
# builds the release binaries (statusgate and the benchmark tool, whose
# source is bench/tool/), then runs the tool, which does the rest: a
# throwaway Postgres cluster of its own (never the machine's main cluster),
# the pgbench anchors and the statusgate runs side by side, one Markdown table
# on stdout and in bench/results/latest.md. The tool stops and removes
# everything it started on exit, also on failure or Ctrl-C / SIGTERM.
# What each row measures: bench/README.md.
#
# Knobs are BENCH_* environment variables, listed with their defaults by
# `target/release/bench --help` and in bench/README.md (BENCH_DURATION,
# BENCH_LARGE_ROWS, BENCH_PHASES, ...). This script reads three itself:
#   BENCH_SKIP_INSTALL=0   1: never apt-get, fail if a tool is missing
#   BENCH_SKIP_BUILD=0     1: use target/release/{statusgate,bench} as they are
#   BENCH_BIN=             benchmark this statusgate binary instead (not built),
#                          e.g. an older release to compare against
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${BENCH_SKIP_INSTALL:=0}"
: "${BENCH_SKIP_BUILD:=0}"

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

APT_UPDATED=0
apt_install() {
    [[ "$BENCH_SKIP_INSTALL" == 1 ]] && die "missing $* and BENCH_SKIP_INSTALL=1"
    [[ $EUID -eq 0 ]] || die "missing $*: run as root so apt-get can install it, or install it"
    command -v apt-get >/dev/null || die "missing $* and no apt-get to install it"
    local apt_log
    apt_log=$(mktemp)
    if [[ $APT_UPDATED == 0 ]]; then
        log "apt-get update"
        apt-get update -qq >"$apt_log" 2>&1 || die "apt-get update failed: $(tail -3 "$apt_log")"
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        >>"$apt_log" 2>&1 || die "apt-get install $* failed: $(tail -3 "$apt_log")"
    rm -f "$apt_log"
}

have_pg_tools() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/pgbench" && -x "$dir/psql" ]] && return 0
    done
    return 1
}

command -v h2load >/dev/null || apt_install nghttp2-client
command -v wrk >/dev/null || apt_install wrk
have_pg_tools || apt_install postgresql-contrib
for tool in h2load wrk; do
    command -v "$tool" >/dev/null || die "$tool is still missing after apt-get"
done
have_pg_tools || die "no initdb/pg_ctl/pgbench/psql under /usr/lib/postgresql/*/bin after installing postgresql-contrib"

if [[ "$BENCH_SKIP_BUILD" != 1 ]]; then
    command -v cargo >/dev/null || die "cargo is required to build statusgate and the benchmark tool"
    bins=(--bin bench)
    [[ -n "${BENCH_BIN:-}" ]] || bins+=(--bin statusgate)
    log "cargo build --release ${bins[*]}"
    build_log=$(mktemp)
    (cd "$ROOT" && cargo build --release --quiet "${bins[@]}") >"$build_log" 2>&1 ||
        die "cargo build --release failed: $(tail -20 "$build_log")"
    rm -f "$build_log"
fi

# An empty knob means its default, as `: "${BENCH_X:=default}"` always had it.
for knob in "${!BENCH_@}"; do
    [[ -n "${!knob}" ]] || unset "$knob"
done
exec "$ROOT/target/release/bench" "$@"
