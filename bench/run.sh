#!/usr/bin/env bash
# statusgate performance benchmark: one command, one table.
#
#   bash bench/run.sh
#
# Installs what it lacks (h2load, wrk, pgbench/initdb; apt-get as root),
# builds target/release/statusgate, starts a throwaway Postgres cluster of its
# own (never the machine's main cluster), runs the pgbench anchors and the
# statusgate runs side by side in this one invocation, prints one Markdown
# table and writes it to bench/results/latest.md. It stops and removes
# everything it started (server, cluster, temp dirs) on exit, even on failure.
# What each row measures: bench/README.md.
#
# Knobs (environment):
#   BENCH_DURATION=10s         measured time of each run (s or m suffix)
#   BENCH_WARMUP=2s            warm-up before each run, not measured
#   BENCH_SMALL_ROWS=10000     stored requests for the main runs ("10k")
#   BENCH_LARGE_ROWS=10000000  stored requests for the flatness runs ("10M");
#                              0 skips them
#   BENCH_PHASES=anchors,postgres,large,sqlite   which phases to run
#   BENCH_GRPC_CONNS=32        h2load connections for gRPC throughput runs
#   BENCH_GRPC_STREAMS=16      h2load concurrent streams per connection
#   BENCH_HTTP_CONNS=512       wrk connections for facade throughput runs
#                              (default: as many as gRPC requests in flight)
#   BENCH_LOADGEN_THREADS=1    threads of each h2load / wrk process
#   BENCH_PGBENCH_THREADS=2    pgbench -j for multi-client anchors
#   BENCH_PGBENCH_SCALE=10     pgbench -i scale of the pgbench -S anchor
#   BENCH_PG_WRITE_CLIENTS=16  pgbench clients of the upsert / insert anchors
#   BENCH_SCOPES=8             GetChangeToken scopes (one h2load process each)
#   BENCH_READ_KEYS=16         PENDING requests / change tokens the status-read
#                              runs spread over (one h2load process each)
#   BENCH_RSS_CONNS=1000       connections of the peak-RSS runs
#   BENCH_PG_PORT=55432        first port tried for the throwaway cluster
#   BENCH_GRPC_PORT=55051      first port tried for statusgate's gRPC listener
#   BENCH_HTTP_PORT=55080      first port tried for statusgate's HTTP listener
#   BENCH_PG_SHARED_BUFFERS=1GB  shared_buffers of the throwaway cluster
#   BENCH_SERVER_ARGS=         extra statusgate flags (word-split), e.g.
#                              "--database-max-connections 32"
#   BENCH_RUST_LOG=warn        RUST_LOG of the server (info logs every request)
#   BENCH_TMPDIR=/var/tmp      where the work dir goes (must be a real disk:
#                              on tmpfs fsync is free and figures are wrong)
#   BENCH_OUT=bench/results/latest.md   where the table is written
#   BENCH_SKIP_INSTALL=0       1: never apt-get, fail if a tool is missing
#   BENCH_SKIP_BUILD=0         1: use target/release/statusgate as it is
#   BENCH_BIN=                 benchmark this binary instead (no build), e.g.
#                              an older release to compare against
#   BENCH_ALLOW_ERRORS=0       1: exit 0 even if a load run saw errors
#   BENCH_KEEP_WORKDIR=0       1: keep logs and the work dir (cluster stopped)
set -euo pipefail
shopt -s inherit_errexit

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

: "${BENCH_DURATION:=10s}"
: "${BENCH_WARMUP:=2s}"
: "${BENCH_SMALL_ROWS:=10000}"
: "${BENCH_LARGE_ROWS:=10000000}"
: "${BENCH_PHASES:=anchors,postgres,large,sqlite}"
: "${BENCH_GRPC_CONNS:=32}"
: "${BENCH_GRPC_STREAMS:=16}"
: "${BENCH_HTTP_CONNS:=$((BENCH_GRPC_CONNS * BENCH_GRPC_STREAMS))}"
: "${BENCH_LOADGEN_THREADS:=1}"
: "${BENCH_PGBENCH_THREADS:=2}"
: "${BENCH_PGBENCH_SCALE:=10}"
: "${BENCH_PG_WRITE_CLIENTS:=16}"
: "${BENCH_SCOPES:=8}"
: "${BENCH_READ_KEYS:=16}"
: "${BENCH_RSS_CONNS:=1000}"
: "${BENCH_PG_PORT:=55432}"
: "${BENCH_GRPC_PORT:=55051}"
: "${BENCH_HTTP_PORT:=55080}"
: "${BENCH_PG_SHARED_BUFFERS:=1GB}"
: "${BENCH_SERVER_ARGS:=}"
: "${BENCH_RUST_LOG:=warn}"
: "${BENCH_TMPDIR:=/var/tmp}"
: "${BENCH_OUT:=$BENCH_DIR/results/latest.md}"
: "${BENCH_SKIP_INSTALL:=0}"
: "${BENCH_SKIP_BUILD:=0}"
: "${BENCH_ALLOW_ERRORS:=0}"
: "${BENCH_KEEP_WORKDIR:=0}"

ACCOUNT=123456789012        # the benchmark's account (hot keys, seeded requests)
SCOPE_ACCOUNT=200000000000  # first account of the GetChangeToken scopes
TYPE_NAME='AWS::Logs::LogGroup'
RR_SERVICE=statusgate.v1.ResourceRequestService
CT_SERVICE=statusgate.v1.ChangeTokenService

STARTED_AT=$(date +%s)
WORK=""
PGDATA=""
PGBIN=""
PG_PORT=""
SERVER_PID=""
SERVER_LOG=""
BG_PIDS=()
ERRORS_SEEN=()

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

# ---- cleanup ------------------------------------------------------------------

stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 150); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}

as_pg_owner() {
    if [[ $EUID -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

stop_postgres() {
    if [[ -n "$PGDATA" && -f "$PGDATA/postmaster.pid" ]]; then
        as_pg_owner "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -t 60 stop >/dev/null 2>&1 ||
            as_pg_owner "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
    fi
}

cleanup() {
    local status=$?
    set +e
    trap - EXIT INT TERM
    local pid
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    stop_server
    stop_postgres
    if [[ -n "$WORK" && -d "$WORK" ]]; then
        if [[ "$BENCH_KEEP_WORKDIR" == 1 ]]; then
            log "work dir kept: $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    if [[ $status -ne 0 ]]; then
        log "exit status $status after $(($(date +%s) - STARTED_AT))s"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- small helpers ----------------------------------------------------------------

seconds_of() { # 10s / 2m / 10 -> seconds
    local value=$1
    case "$value" in
    *ms) die "durations below a second are not supported: $value" ;;
    *s) echo "${value%s}" ;;
    *m) echo $((${value%m} * 60)) ;;
    *) echo "$value" ;;
    esac
}
DURATION_S=$(seconds_of "$BENCH_DURATION")
WARMUP_S=$(seconds_of "$BENCH_WARMUP")
[[ "$DURATION_S" =~ ^[0-9]+$ && "$DURATION_S" -ge 1 ]] || die "BENCH_DURATION must be >= 1s"
[[ "$WARMUP_S" =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be whole seconds"

phase() { [[ ",$BENCH_PHASES," == *",$1,"* ]]; }

tool() { python3 "$BENCH_DIR/tool.py" "$@"; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_port() { # first free port from $1 on, skipping those named after it
    local port=$1
    shift

    for _ in $(seq 1 100); do
        if port_free "$port" && [[ " $* " != *" $port "* ]]; then
            echo "$port"
            return 0
        fi
        port=$((port + 1))
    done
    die "no free port from $1"
}

now_ns() { date +%s%N; }

server_ticks() { # utime + stime of the server, in clock ticks
    if [[ -n "$SERVER_PID" && -r "/proc/$SERVER_PID/stat" ]]; then
        sed 's/^.*) //' "/proc/$SERVER_PID/stat" | awk '{print $12 + $13}'
    else
        echo 0
    fi
}

machine_ticks() { # busy ticks of all cores
    awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat
}

postgres_ticks() { # the throwaway cluster: postmaster, its children, and its reaped children
    local pm
    pm=$(head -1 "$PGDATA/postmaster.pid" 2>/dev/null || true)
    if [[ -z "$pm" || ! -r "/proc/$pm/stat" ]]; then
        echo 0
        return
    fi
    {
        sed 's/^.*) //' "/proc/$pm/stat" | awk '{print $12 + $13 + $14 + $15}'
        local child
        for child in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do
            sed 's/^.*) //' "/proc/$child/stat" 2>/dev/null | awk '{print $12 + $13 + $14 + $15}' || true
        done
    } | awk '{s += $1} END {print s + 0}'
}

CLK_TCK=$(getconf CLK_TCK)

# Measurement window: begin_window, run the load, end_window GEN_CPU_SECONDS;
# sets WINDOW_WALL (s) and WINDOW_CPU "gen/srv/pg/other", each in % of one
# core over the window: load generator, statusgate, Postgres, anything else
# on the machine (other builds, the shell).
begin_window() {
    W_T0=$(now_ns)
    W_S0=$(server_ticks)
    W_P0=$(postgres_ticks)
    W_M0=$(machine_ticks)
}
end_window() {
    local gen_s=$1 t1 s1 p1 m1
    t1=$(now_ns)
    s1=$(server_ticks)
    p1=$(postgres_ticks)
    m1=$(machine_ticks)
    WINDOW_WALL=$(awk -v a="$W_T0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
    WINDOW_CPU=$(awk -v w="$WINDOW_WALL" -v hz="$CLK_TCK" -v g="$gen_s" -v s="$((s1 - W_S0))" \
        -v p="$((p1 - W_P0))" -v m="$((m1 - W_M0))" -v has_srv="${SERVER_PID:+1}" 'BEGIN{
            other = m/hz - g - s/hz - p/hz; if (other < 0) other = 0;
            srv = has_srv ? sprintf("%.0f", 100*s/hz/w) : "-";
            printf "%.0f/%s/%.0f/%.0f", 100*g/w, srv, 100*p/hz/w, 100*other/w }')
}

# record ID OPERATION TRANSPORT BACKEND CONCURRENCY RPS P50 P99 CPU OK ERRORS NOTE
record() {
    local IFS=$'\t'
    echo "$*" >>"$WORK/results.tsv"
    log "$1: $6 req/s, p50 $7 ms, p99 $8 ms, cpu gen/srv/pg/other $9, errors ${11}${12:+ (${12})}"
    if [[ "${11}" != 0 ]]; then
        ERRORS_SEEN+=("$1 (${11} errors)")
    fi
}

# The commonest warning or error the server logged since line $1 (for notes).
server_complaint() {
    [[ -n "$SERVER_LOG" && -f "$SERVER_LOG" ]] || return 0
    local level lines
    for level in ERROR WARN; do
        lines=$(tail -n +"$(($1 + 1))" "$SERVER_LOG" | grep " $level " |
            sed -E 's/^[^ ]+ +//; s/[0-9a-f]{8}-[0-9a-f-]{27}/<id>/g' | sort | uniq -c | sort -rn |
            head -1 | sed -E 's/^ *([0-9]+) /\1x /' | cut -c1-240 | tr '\t|;' '  ,' || true)
        if [[ -n "$lines" ]]; then
            echo "$lines"
            return 0
        fi
    done
    echo "nothing logged at WARN or ERROR"
}

server_log_lines() { if [[ -n "$SERVER_LOG" && -f "$SERVER_LOG" ]]; then wc -l <"$SERVER_LOG"; else echo 0; fi; }

note() { echo "$*" >>"$WORK/notes.md"; }     # a line of the Setup section
section() { echo "$*" >>"$WORK/sections.md"; } # a line of the sections after it

# ---- 1. tools and build ---------------------------------------------------------

APT_UPDATED=0
apt_install() {
    [[ "$BENCH_SKIP_INSTALL" == 1 ]] && die "missing $* and BENCH_SKIP_INSTALL=1"
    [[ $EUID -eq 0 ]] || die "missing $*: run as root so apt-get can install it, or install it"
    command -v apt-get >/dev/null || die "missing $* and no apt-get to install it"
    if [[ $APT_UPDATED == 0 ]]; then
        log "apt-get update"
        apt-get update -qq >"$WORK/apt.log" 2>&1 || die "apt-get update failed (see $WORK/apt.log)"
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        >>"$WORK/apt.log" 2>&1 || die "apt-get install $* failed: $(tail -3 "$WORK/apt.log")"
}

find_pgbin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pgbench" && -x "$dir/pg_ctl" ]]; then
        echo "$dir"
    fi
}

ensure_tools() {
    command -v python3 >/dev/null || die "python3 is required (bench/tool.py)"
    command -v curl >/dev/null || apt_install curl
    command -v h2load >/dev/null || apt_install nghttp2-client
    command -v wrk >/dev/null || apt_install wrk
    PGBIN=$(find_pgbin)
    if [[ -z "$PGBIN" ]]; then
        apt_install postgresql-contrib
        PGBIN=$(find_pgbin)
    fi
    [[ -n "$PGBIN" ]] || die "no initdb/pg_ctl/pgbench under /usr/lib/postgresql/*/bin after installing postgresql-contrib"
    local missing
    for missing in h2load wrk curl; do
        command -v "$missing" >/dev/null || die "$missing is still missing after apt-get"
    done
    if [[ $EUID -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' user to run the throwaway cluster as"
    fi
}

build_server() {
    BIN="${BENCH_BIN:-$ROOT/target/release/statusgate}"
    if [[ -z "${BENCH_BIN:-}" && "$BENCH_SKIP_BUILD" != 1 ]]; then
        command -v cargo >/dev/null || die "cargo is required to build statusgate"
        log "cargo build --release"
        (cd "$ROOT" && cargo build --release --quiet) >"$WORK/build.log" 2>&1 ||
            die "cargo build --release failed: $(tail -20 "$WORK/build.log")"
    fi
    [[ -x "$BIN" ]] || die "$BIN is missing (build failed or BENCH_SKIP_BUILD=1 without a build)"
}

raise_fd_limit() {
    local want=$((BENCH_RSS_CONNS * 2 + 1024))
    if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $want ]]; then
        ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    fi
    local now
    now=$(ulimit -n)
    [[ $now == unlimited || $now -ge $((BENCH_RSS_CONNS + 100)) ]] ||
        die "open-file limit $now is too low for $BENCH_RSS_CONNS connections (ulimit -Hn: $(ulimit -Hn))"
}

# ---- 2. the throwaway Postgres cluster ---------------------------------------------

psql_db() { # psql_db DB [psql args...]
    local db=$1
    shift
    "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" "$@"
}

start_postgres() {
    PG_PORT=$(pick_port "$BENCH_PG_PORT")
    [[ "$PG_PORT" != 5432 ]] || die "refusing port 5432 (the machine's main cluster)"
    PGDATA="$WORK/pgdata"
    mkdir -p "$PGDATA" "$WORK/pgsock" "$WORK/pglog"
    if [[ $EUID -eq 0 ]]; then
        chown postgres: "$PGDATA" "$WORK/pgsock" "$WORK/pglog"
    fi
    chmod 700 "$PGDATA"
    log "initdb $PGDATA (port $PG_PORT)"
    as_pg_owner "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$WORK/pglog/initdb.log" 2>&1 ||
        as_pg_owner "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --no-locale \
            >"$WORK/pglog/initdb.log" 2>&1 || die "initdb failed: $(tail -5 "$WORK/pglog/initdb.log")"
    # Durability stays on (fsync, synchronous_commit, full_page_writes are the
    # defaults, spelled out); only sizes are raised so that checkpoints stay
    # out of the measured runs and the 10M-row seed builds its indexes fast.
    cat >>"$PGDATA/postgresql.conf" <<EOF

# statusgate bench
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$WORK/pgsock'
max_connections = 300
shared_buffers = '$BENCH_PG_SHARED_BUFFERS'
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_size = '16GB'
checkpoint_timeout = '30min'
maintenance_work_mem = '1GB'
EOF
    as_pg_owner "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/pglog/postgres.log" -w -t 60 start >/dev/null ||
        die "the throwaway Postgres did not start: $(tail -5 "$WORK/pglog/postgres.log")"
    local version
    version=$(psql_db postgres -tA -c 'SHOW server_version')
    note "- Postgres $version, throwaway cluster on 127.0.0.1:$PG_PORT, shared_buffers $BENCH_PG_SHARED_BUFFERS, fsync on, synchronous_commit on"
}

# ---- load generators -------------------------------------------------------------

# grpc_call PATH BODY_FILE OUT_FILE: one unary call; dies unless HTTP 200 and grpc-status 0.
grpc_call() {
    local path=$1 body=$2 out=$3
    local headers="$out.headers"
    curl -s --http2-prior-knowledge -X POST -H 'content-type: application/grpc' -H 'te: trailers' \
        --data-binary "@$body" -D "$headers" -o "$out" "http://127.0.0.1:$GRPC_PORT/$path" ||
        die "gRPC call $path: curl failed"
    grep -q '^HTTP/2 200' "$headers" || die "gRPC call $path: $(head -1 "$headers")"
    local status
    status=$(tr -d '\r' <"$headers" | awk -F': ' 'tolower($1)=="grpc-status"{print $2}' | tail -1)
    [[ "$status" == 0 ]] ||
        die "gRPC call $path answered grpc-status '${status:-none}': $(tr -d '\r' <"$headers" | grep -i grpc-message || true)"
}

# facade_call TARGET CONTENT_TYPE ACCOUNT BODY: prints the response body; dies unless 200.
facade_call() {
    local target=$1 ctype=$2 account=$3 body=$4 code
    code=$(curl -s -o "$WORK/facade.out" -w '%{http_code}' -X POST \
        -H "X-Amz-Target: $target" -H "Content-Type: $ctype" \
        -H "Authorization: AWS4-HMAC-SHA256 Credential=$account/20260101/us-east-1/bench/aws4_request, SignedHeaders=host, Signature=00" \
        --data-binary "$body" "http://127.0.0.1:$HTTP_PORT/") || die "facade call $target: curl failed"
    [[ "$code" == 200 ]] || die "facade call $target answered HTTP $code: $(cat "$WORK/facade.out")"
    cat "$WORK/facade.out"
}

scrape() { curl -s -m 5 "http://127.0.0.1:$HTTP_PORT/metrics" >"$1" 2>/dev/null || : >"$1"; }

sum_cpu() { cat "$@" | awk '{s+=$1} END{printf "%.3f", s}'; }

# h2_run ID OPERATION BACKEND CONNS STREAMS METHOD_PATH BODY...
# One h2load process per body (connections split evenly), all in parallel.
#
# A unary gRPC error is an HTTP 200 with a non-zero grpc-status, which h2load
# counts as a success, so every body is first sent once with curl (HTTP 200,
# grpc-status 0 or the benchmark stops), and statusgate's own request counter
# (statusgate_requests_total by outcome) is read before, near the end of, and
# after the run: any non-OK outcome is an error. The exception is the very end:
# when h2load stops it resets the streams still in flight, and statusgate
# counts a stream reset before its request body arrived as grpc-status 2; up
# to one per in-flight stream after the last second is reported, not failed.
h2_run() {
    local id=$1 op=$2 backend=$3 conns=$4 streams=$5 path=$6
    shift 6
    local bodies=("$@") n=$# dir="$WORK/runs/$id"
    mkdir -p "$dir"
    local per=$((conns / n))
    ((per >= 1)) || per=1
    local k
    for k in $(seq 0 $((n - 1))); do
        grpc_call "$path" "${bodies[$k]}" "$dir/check.$k"
    done
    log "$id: h2load $n x ${per}c x ${streams}s for ${DURATION_S}s (+${WARMUP_S}s warm-up)"
    local log_mark
    log_mark=$(server_log_lines)
    scrape "$dir/metrics.before"
    begin_window
    local pids=()
    for k in $(seq 0 $((n - 1))); do
        # python3 directly, not the tool function: $! must be the process that forwards signals
        python3 "$BENCH_DIR/tool.py" run "$dir/cpu.$k" h2load -c "$per" -m "$streams" -t "$BENCH_LOADGEN_THREADS" \
            -D "$DURATION_S" --warm-up-time "$WARMUP_S" --log-file "$dir/log.$k" \
            -d "${bodies[$k]}" -H 'content-type: application/grpc' -H 'te: trailers' \
            "http://127.0.0.1:$GRPC_PORT/$path" >"$dir/out.$k" 2>&1 &
        pids+=($!)
        BG_PIDS+=($!)
    done
    # The counter one second before h2load stops: everything up to here is strict.
    # (in the background: a signal's trap runs at once during `wait`, not during `sleep`)
    sleep "$((WARMUP_S + DURATION_S - 1))" &
    wait $! || true
    scrape "$dir/metrics.mid"
    local failed=0
    for k in "${!pids[@]}"; do
        wait "${pids[$k]}" || failed=1
    done
    BG_PIDS=()
    end_window "$(sum_cpu "$dir"/cpu.*)"
    scrape "$dir/metrics.after"
    [[ $failed == 0 ]] || die "$id: h2load failed: $(tail -5 "$dir"/out.* | head -20)"
    local rps ok hfailed herrored htimeout non2xx count p50 p99 bad mok mbad _ok tail_bad
    read -r rps _ ok hfailed herrored htimeout non2xx < <(tool h2sum "$dir"/out.*)
    read -r count p50 p99 bad < <(tool pct h2load "$dir"/log.*)
    local method=${path##*/}
    read -r mok mbad < <(tool metrics "$dir/metrics.before" "$dir/metrics.mid" grpc "$method")
    read -r _ok tail_bad < <(tool metrics "$dir/metrics.mid" "$dir/metrics.after" grpc "$method")
    [[ -n "$rps" && -n "$p50" && -n "$mok" && -n "$tail_bad" ]] || die "$id: cannot read the h2load results in $dir"
    mok=$((mok + _ok))
    local client_errors=$((hfailed + herrored + htimeout + non2xx))
    local errors=$((client_errors + mbad)) notes=()
    # Streams cut by h2load's own stop: logged with status -1 by h2load (not
    # counted as failed) and as errors by statusgate, at most what was in flight.
    if ((tail_bad > 0 || bad > 0)); then
        if ((client_errors == 0 && tail_bad <= per * n * streams && bad <= per * n * streams)); then
            notes+=("at h2load's stop: $bad streams cut, $tail_bad counted by statusgate as errors")
        else
            errors=$((errors + tail_bad + bad))
        fi
    fi
    if ((mok == 0 && mbad == 0 && tail_bad == 0)); then
        notes+=("statusgate_requests_total has no $method: grpc-status checked only before the run")
    elif ((mok < ok)); then
        # Every gRPC error already shows as a non-OK outcome above; a count
        # short by more than what was in flight means the counter is not
        # measuring this run at all.
        if ((ok - mok > per * n * streams)); then
            errors=$((errors + ok - mok))
        fi
        notes+=("statusgate counted $mok OK calls, h2load $ok")
    fi
    if ((errors > 0)); then
        notes+=("ERRORS: h2load failed $hfailed, errored $herrored, timeout $htimeout, non-2xx $non2xx, cut $bad; statusgate non-OK $mbad (+$tail_bad at the end); log: $(server_complaint "$log_mark")")
    fi
    [[ -z "$RUN_NOTE" ]] || notes+=("$RUN_NOTE")
    RUN_NOTE=""
    local conc="${per}c x ${streams}s"
    ((n == 1)) || conc="${n} x (${per}c x ${streams}s)"
    local IFS=';'
    record "$id" "$op" gRPC "$backend" "$conc" "$rps" "$p50" "$p99" "$WINDOW_CPU" "$ok" "$errors" \
        "${notes[*]}"
}

# wrk_run ID OPERATION BACKEND CONNS TARGET CONTENT_TYPE ACCOUNT MODE ARGS...
# Errors: wrk's socket errors and non-2xx responses, and any non-OK outcome
# statusgate counted for the operation over the warm-up and the run.
wrk_run() {
    local id=$1 op=$2 backend=$3 conns=$4 target=$5 ctype=$6 account=$7
    shift 7
    local dir="$WORK/runs/$id"
    mkdir -p "$dir"
    local script="$BENCH_DIR/facade.lua" url="http://127.0.0.1:$HTTP_PORT/"
    local threads=$BENCH_LOADGEN_THREADS
    ((threads <= conns)) || threads=$conns
    log "$id: wrk ${conns}c for ${DURATION_S}s (+${WARMUP_S}s warm-up)"
    local log_mark
    log_mark=$(server_log_lines)
    scrape "$dir/metrics.before"
    begin_window
    if ((WARMUP_S > 0)); then
        tool run "$dir/cpu.warm" wrk -t "$threads" -c "$conns" -d "${WARMUP_S}s" -s "$script" "$url" \
            -- "$target" "$ctype" "$account" "$@" >"$dir/warm.out" 2>&1 ||
            die "$id: wrk warm-up failed: $(tail -5 "$dir/warm.out")"
    else
        echo 0 >"$dir/cpu.warm"
    fi
    tool run "$dir/cpu.main" wrk -t "$threads" -c "$conns" -d "${DURATION_S}s" --timeout 10s \
        -s "$script" "$url" -- "$target" "$ctype" "$account" "$@" >"$dir/out" 2>&1 ||
        die "$id: wrk failed: $(tail -5 "$dir/out")"
    end_window "$(sum_cpu "$dir/cpu.warm" "$dir/cpu.main")"
    scrape "$dir/metrics.after"
    local line
    line=$(grep '^BENCHJSON ' "$dir/out" | tail -1) || die "$id: no summary from wrk: $(tail -5 "$dir/out")"
    local requests duration econnect eread ewrite estatus etimeout p50us p99us
    read -r _ requests duration econnect eread ewrite estatus etimeout p50us p99us <<<"$line"
    local rps p50 p99
    rps=$(awk -v r="$requests" -v d="$duration" 'BEGIN{printf "%.1f", r/(d/1e6)}')
    p50=$(awk -v v="$p50us" 'BEGIN{printf "%.3f", v/1000}')
    p99=$(awk -v v="$p99us" 'BEGIN{printf "%.3f", v/1000}')
    local operation=${target##*.} mok mbad
    read -r mok mbad < <(tool metrics "$dir/metrics.before" "$dir/metrics.after" http "$operation")
    [[ -n "$requests" && -n "$mok" ]] || die "$id: cannot read the wrk results in $dir"
    # A failed call is both a non-2xx for wrk and a non-OK outcome for
    # statusgate (which also saw the warm-up): count it once.
    local errors=$((econnect + eread + ewrite + etimeout + (estatus > mbad ? estatus : mbad))) notes=()
    ((mok > 0 || mbad > 0)) || notes+=("statusgate_requests_total has no $operation: HTTP status only")
    if ((errors > 0)); then
        notes+=("ERRORS: wrk connect $econnect, read $eread, write $ewrite, non-2xx $estatus, timeout $etimeout; statusgate non-OK $mbad (warm-up included); log: $(server_complaint "$log_mark")")
    fi
    [[ -z "$RUN_NOTE" ]] || notes+=("$RUN_NOTE")
    RUN_NOTE=""
    local version=1.0
    [[ $ctype != *1.1 ]] || version=1.1
    local IFS=';'
    record "$id" "$op" "awsJson $version" "$backend" "${conns}c" "$rps" "$p50" "$p99" "$WINDOW_CPU" \
        "$requests" "$errors" "${notes[*]}"
}

# pgb_run ID OPERATION CLIENTS PGBENCH_ARGS...
pgb_run() {
    local id=$1 op=$2 clients=$3
    shift 3
    local dir="$WORK/runs/$id"
    mkdir -p "$dir"
    local threads=$BENCH_PGBENCH_THREADS
    ((threads <= clients)) || threads=$clients
    local common=(-h 127.0.0.1 -p "$PG_PORT" -U postgres -n -M prepared -c "$clients" -j "$threads")
    log "$id: pgbench ${clients}c for ${DURATION_S}s (+${WARMUP_S}s warm-up)"
    begin_window
    if ((WARMUP_S > 0)); then
        tool run "$dir/cpu.warm" "$PGBIN/pgbench" "${common[@]}" -T "$WARMUP_S" "$@" anchors \
            >"$dir/warm.out" 2>&1 || die "$id: pgbench warm-up failed: $(tail -5 "$dir/warm.out")"
    else
        echo 0 >"$dir/cpu.warm"
    fi
    tool run "$dir/cpu.main" "$PGBIN/pgbench" "${common[@]}" -T "$DURATION_S" -l \
        --log-prefix="$dir/log" "$@" anchors >"$dir/out" 2>&1 ||
        die "$id: pgbench failed: $(tail -5 "$dir/out")"
    end_window "$(sum_cpu "$dir/cpu.warm" "$dir/cpu.main")"
    local tps failures count p50 p99 bad
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$dir/out")
    [[ -n "$tps" ]] || die "$id: no tps in pgbench output: $(tail -5 "$dir/out")"
    failures=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$dir/out")
    read -r count p50 p99 bad < <(tool pct pgbench "$dir"/log.*)
    [[ -n "$p50" ]] || die "$id: cannot read the pgbench logs in $dir"
    local errors=$((${failures:-0} + bad)) note_text=""
    ((errors == 0)) || note_text="ERRORS: pgbench failed transactions ${failures:-0}"
    record "$id" "$op" "libpq, prepared" postgres "${clients}c" "$tps" "$p50" "$p99" "$WINDOW_CPU" \
        "$count" "$errors" "$note_text"
}

# ---- statusgate -------------------------------------------------------------------

start_server() { # start_server NAME DATABASE_URL
    local name=$1 url=$2
    GRPC_PORT=$(pick_port "$BENCH_GRPC_PORT" "$PG_PORT")
    HTTP_PORT=$(pick_port "$BENCH_HTTP_PORT" "$PG_PORT" "$GRPC_PORT")
    SERVER_LOG="$WORK/server-$name.log"
    log "starting statusgate ($name) on gRPC $GRPC_PORT, HTTP $HTTP_PORT"
    # shellcheck disable=SC2086 # BENCH_SERVER_ARGS is word-split on purpose
    env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \
        OTEL_TRACES_EXPORTER=none RUST_LOG="$BENCH_RUST_LOG" \
        "$BIN" --database-url "$url" --grpc-listen "127.0.0.1:$GRPC_PORT" \
        --http-listen "127.0.0.1:$HTTP_PORT" $BENCH_SERVER_ARGS >>"$SERVER_LOG" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID" 2>/dev/null || true
            SERVER_PID=""
            die "statusgate ($name) exited at start: $(tail -5 "$SERVER_LOG")"
        fi
        if [[ $(curl -s -o /dev/null -w '%{http_code}' -m 2 "http://127.0.0.1:$HTTP_PORT/readyz" || true) == 200 ]]; then
            return 0
        fi
        sleep 0.1
    done
    die "statusgate ($name) not ready after 60s: $(tail -5 "$SERVER_LOG")"
}

# Hot keys made through the API, exactly as the server writes them:
# BENCH_READ_KEYS PENDING requests (CreateResourceRequest) and as many PENDING
# change tokens of one scope (GetChangeToken + ConsumeChangeToken, repeated).
# statusgate coalesces concurrent reads of one key into one lookup, so reads
# spread over several keys (and the facade's random-key runs) keep that from
# flattering the figures.
make_hot_keys() {
    local dir="$WORK/bodies" scope="{\"1\":\"$ACCOUNT\",\"2\":1}" k token consumed
    mkdir -p "$dir"
    tool bodies "$dir" \
        hot-create "{\"1\":\"$ACCOUNT\",\"2\":1,\"3\":\"$TYPE_NAME\",\"5\":\"{\\\"LogGroupName\\\":\\\"hot\\\"}\"}" \
        hot-gct "{\"1\":$scope}"
    HOT_REQUESTS=()
    HOT_CHANGE_TOKENS=()
    for k in $(seq 1 "$BENCH_READ_KEYS"); do
        grpc_call "$RR_SERVICE/CreateResourceRequest" "$dir/hot-create.bin" "$dir/out.create.$k"
        grpc_call "$CT_SERVICE/GetChangeToken" "$dir/hot-gct.bin" "$dir/out.gct.$k"
        # A new token each time: the previous one of the scope was used just below.
        token=$(tool field "$dir/out.gct.$k" 1)
        tool body "$dir/consume.bin" "{\"1\":$scope,\"2\":\"$token\",\"3\":\"UpdateIPSet bench-$k\"}"
        grpc_call "$CT_SERVICE/ConsumeChangeToken" "$dir/consume.bin" "$dir/out.consume"
        # ConsumeChangeTokenResponse{change_token_status: PENDING}, framed.
        consumed=$(od -An -tx1 "$dir/out.consume" | tr -d ' \n')
        [[ $consumed == 00000000020802 ]] || die "change token $token is not PENDING after ConsumeChangeToken"
        HOT_CHANGE_TOKENS+=("$token")
    done
    for k in $(seq 1 "$BENCH_READ_KEYS"); do
        HOT_REQUESTS+=("$(tool field "$dir/out.create.$k" 1.3)")
    done
    [[ $(printf '%s\n' "${HOT_CHANGE_TOKENS[@]}" | sort -u | wc -l) == "$BENCH_READ_KEYS" ]] ||
        die "GetChangeToken did not issue a new token after each ConsumeChangeToken"
    log "$BENCH_READ_KEYS PENDING requests and change tokens made through the API"
}

# The bodies every backend uses (after make_hot_keys).
make_bodies() {
    local dir="$WORK/bodies" scope="{\"1\":\"$ACCOUNT\",\"2\":1}" k specs=()
    for k in "${!HOT_REQUESTS[@]}"; do
        specs+=("rrs-$k" "{\"1\":\"$ACCOUNT\",\"2\":\"${HOT_REQUESTS[$k]}\"}")
        specs+=("cts-$k" "{\"1\":$scope,\"2\":\"${HOT_CHANGE_TOKENS[$k]}\"}")
    done
    for k in $(seq 0 $((BENCH_SCOPES - 1))); do
        specs+=("gct-$k" "{\"1\":{\"1\":\"$((SCOPE_ACCOUNT + k))\",\"2\":1}}")
    done
    specs+=(list "{\"1\":\"$ACCOUNT\",\"2\":20}")
    specs+=(crr "{\"1\":\"$ACCOUNT\",\"2\":1,\"3\":\"$TYPE_NAME\",\"5\":\"{\\\"LogGroupName\\\":\\\"bench\\\"}\"}")
    tool bodies "$dir" "${specs[@]}"
    B_RRS=()
    B_CTS=()
    for k in "${!HOT_REQUESTS[@]}"; do
        B_RRS+=("$dir/rrs-$k.bin")
        B_CTS+=("$dir/cts-$k.bin")
    done
    B_GCT=()
    for k in $(seq 0 $((BENCH_SCOPES - 1))); do
        B_GCT+=("$dir/gct-$k.bin")
    done
    B_LIST="$dir/list.bin"
    B_CRR="$dir/crr.bin"
    J_CR="{\"TypeName\":\"$TYPE_NAME\",\"DesiredState\":\"{\\\"LogGroupName\\\":\\\"bench\\\"}\"}"
    # One facade call of each kind, so a broken facade fails here, not under load.
    local answer
    answer=$(facade_call CloudApiService.GetResourceRequestStatus application/x-amz-json-1.0 "$ACCOUNT" \
        "{\"RequestToken\":\"${HOT_REQUESTS[0]}\"}")
    [[ $answer == *'"OperationStatus":"PENDING"'* ]] || die "facade GetResourceRequestStatus answered $answer"
    answer=$(facade_call AWSWAF_20150824.GetChangeTokenStatus application/x-amz-json-1.1 "$ACCOUNT" \
        "{\"ChangeToken\":\"${HOT_CHANGE_TOKENS[0]}\"}")
    [[ $answer == *'"ChangeTokenStatus":"PENDING"'* ]] || die "facade GetChangeTokenStatus answered $answer"
    answer=$(facade_call AWSWAF_20150824.GetChangeToken application/x-amz-json-1.1 "$SCOPE_ACCOUNT" '{}')
    [[ $answer == *'"ChangeToken"'* ]] || die "facade GetChangeToken answered $answer"
    answer=$(facade_call CloudApiService.CreateResource application/x-amz-json-1.0 "$ACCOUNT" "$J_CR")
    [[ $answer == *'"RequestToken"'* ]] || die "facade CreateResource answered $answer"
    # A seeded request, as the random-key runs read them.
    if [[ -n "${SEEDED:-}" ]]; then
        local seeded
        seeded=$(python3 -c 'i=1; print("%08x-0000-4000-8000-%012x" % ((i * 1000003) % 2**32, i))')
        answer=$(facade_call CloudApiService.GetResourceRequestStatus application/x-amz-json-1.0 "$ACCOUNT" \
            "{\"RequestToken\":\"$seeded\"}")
        [[ $answer == *'"OperationStatus":"PENDING"'* ]] || die "seeded request $seeded reads as $answer"
    fi
}

rrs_path="$RR_SERVICE/GetResourceRequestStatus"
cts_path="$CT_SERVICE/GetChangeTokenStatus"

# ---- phases ----------------------------------------------------------------------

G_C=$BENCH_GRPC_CONNS
G_S=$BENCH_GRPC_STREAMS
H_C=$BENCH_HTTP_CONNS
RUN_NOTE=""

phase_anchors() {
    log "anchors: pgbench -i -s $BENCH_PGBENCH_SCALE"
    psql_db postgres -c 'CREATE DATABASE anchors'
    "$PGBIN/pgbench" -h 127.0.0.1 -p "$PG_PORT" -U postgres -i -q -s "$BENCH_PGBENCH_SCALE" anchors \
        >"$WORK/pgbench-init.log" 2>&1 || die "pgbench -i failed: $(tail -5 "$WORK/pgbench-init.log")"
    # statusgate's own tables, for the upsert and insert anchors.
    local migration
    for migration in "$ROOT"/migrations/postgres/*.sql; do
        psql_db anchors -f "$migration" >/dev/null
    done
    psql_db anchors -c 'VACUUM ANALYZE' >/dev/null
    pgb_run pg_sel_c1 "SELECT by key (pgbench -S, scale $BENCH_PGBENCH_SCALE)" 1 -S
    pgb_run pg_sel_c8 "SELECT by key (pgbench -S, scale $BENCH_PGBENCH_SCALE)" 8 -S
    pgb_run pg_upsert "upsert change_tokens ($BENCH_SCOPES scopes)" "$BENCH_PG_WRITE_CLIENTS" \
        -D "scopes=$BENCH_SCOPES" -f "$BENCH_DIR/sql/pgbench_upsert.sql"
    pgb_run pg_insert "INSERT resource_requests (uuid key)" "$BENCH_PG_WRITE_CLIENTS" \
        -f "$BENCH_DIR/sql/pgbench_insert.sql"
}

seed_sql() { # seed_sql FILE first last
    local now_us
    now_us=$(($(date +%s%N) / 1000))
    psql_db statusgate -v first="$2" -v last="$3" -v account="$ACCOUNT" -v now_us="$now_us" \
        -f "$1" >"$WORK/seed.log" 2>&1 || die "seeding with $(basename "$1") failed: $(tail -5 "$WORK/seed.log")"
}

stored_requests() {
    psql_db statusgate -tA -c "SELECT reltuples::bigint FROM pg_class WHERE relname = 'resource_requests'"
}

sample_rss() { # background: VmRSS (kB) of the server every 0.2 s
    local pid=$SERVER_PID
    while kill -0 "$pid" 2>/dev/null; do
        awk '/^VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || true
        sleep 0.2
    done
}

phase_postgres() {
    psql_db postgres -c 'CREATE DATABASE statusgate'
    start_server postgres "postgres://postgres@127.0.0.1:$PG_PORT/statusgate"
    log "seeding $BENCH_SMALL_ROWS requests and $BENCH_SMALL_ROWS change tokens"
    seed_sql "$BENCH_DIR/sql/seed_requests.sql" 1 "$BENCH_SMALL_ROWS"
    SEEDED=1
    local now_us
    now_us=$(($(date +%s%N) / 1000))
    psql_db statusgate -v rows="$BENCH_SMALL_ROWS" -v now_us="$now_us" \
        -f "$BENCH_DIR/sql/seed_change_tokens.sql" >/dev/null
    psql_db statusgate -c 'VACUUM ANALYZE' >/dev/null
    make_hot_keys
    make_bodies
    local small
    small=$(stored_requests)
    note "- Postgres runs: $small stored requests for the reads (seeded ${BENCH_SMALL_ROWS}), $BENCH_SMALL_ROWS background change tokens"

    # Reads first, while the table holds the small seed.
    h2_run grpc_rrs "GetResourceRequestStatus (PENDING, $BENCH_READ_KEYS keys)" postgres "$G_C" "$G_S" "$rrs_path" "${B_RRS[@]}"
    h2_run grpc_cts "GetChangeTokenStatus (PENDING, $BENCH_READ_KEYS keys)" postgres "$G_C" "$G_S" "$cts_path" "${B_CTS[@]}"
    h2_run grpc_list "ListResourceRequests (first page of 20)" postgres "$G_C" "$G_S" \
        "$RR_SERVICE/ListResourceRequests" "$B_LIST"
    wrk_run http_rrs "GetResourceRequestStatus (PENDING, $BENCH_READ_KEYS keys)" postgres "$H_C" \
        CloudApiService.GetResourceRequestStatus application/x-amz-json-1.0 "$ACCOUNT" \
        keys RequestToken "${HOT_REQUESTS[@]}"
    wrk_run http_rrs_rand "GetResourceRequestStatus (random of $BENCH_SMALL_ROWS seeded)" postgres "$H_C" \
        CloudApiService.GetResourceRequestStatus application/x-amz-json-1.0 "$ACCOUNT" \
        random-request 1 "$BENCH_SMALL_ROWS"
    wrk_run http_cts "GetChangeTokenStatus (PENDING, $BENCH_READ_KEYS keys)" postgres "$H_C" \
        AWSWAF_20150824.GetChangeTokenStatus application/x-amz-json-1.1 "$ACCOUNT" \
        keys ChangeToken "${HOT_CHANGE_TOKENS[@]}"
    h2_run grpc_rrs_c1 "GetResourceRequestStatus unloaded (PENDING)" postgres 1 1 "$rrs_path" "${B_RRS[0]}"

    # Peak RSS while serving BENCH_RSS_CONNS connections.
    sample_rss >"$WORK/rss.samples" &
    local sampler=$!
    BG_PIDS+=("$sampler")
    h2_run grpc_rss "GetResourceRequestStatus, $BENCH_RSS_CONNS connections" postgres \
        "$BENCH_RSS_CONNS" 1 "$rrs_path" "${B_RRS[0]}"
    wrk_run http_rss "GetResourceRequestStatus, $BENCH_RSS_CONNS connections" postgres "$BENCH_RSS_CONNS" \
        CloudApiService.GetResourceRequestStatus application/x-amz-json-1.0 "$ACCOUNT" \
        keys RequestToken "${HOT_REQUESTS[@]}"
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    local hwm peak
    hwm=$(awk '/^VmHWM/{print $2}' "/proc/$SERVER_PID/status")
    peak=$(sort -n "$WORK/rss.samples" | tail -1)
    PEAK_RSS_MIB=$(awk -v k="$hwm" 'BEGIN{printf "%.1f", k/1024}')
    local sampled_mib verdict
    sampled_mib=$(awk -v k="${peak:-0}" 'BEGIN{printf "%.1f", k/1024}')
    verdict=$(awk -v m="$PEAK_RSS_MIB" 'BEGIN{print (m <= 64) ? "met" : "MISSED"}')
    section ""
    section "## Peak RSS"
    section ""
    section "| measure | MiB | goal | verdict |"
    section "|---|---:|---|---|"
    section "| statusgate VmHWM after $BENCH_RSS_CONNS gRPC connections then $BENCH_RSS_CONNS HTTP/1.1 connections (peak since start, every earlier run included) | $PEAK_RSS_MIB | <= 64 MiB | $verdict |"
    section "| highest VmRSS sampled every 0.2 s during those two runs | $sampled_mib | | |"

    # Writes.
    h2_run grpc_gct "GetChangeToken ($BENCH_SCOPES scopes)" postgres "$G_C" "$G_S" \
        "$CT_SERVICE/GetChangeToken" "${B_GCT[@]}"
    wrk_run http_gct "GetChangeToken ($BENCH_SCOPES scopes)" postgres "$H_C" \
        AWSWAF_20150824.GetChangeToken application/x-amz-json-1.1 "$SCOPE_ACCOUNT" scopes "$BENCH_SCOPES" '{}'
    h2_run grpc_crr "CreateResourceRequest" postgres "$G_C" "$G_S" "$RR_SERVICE/CreateResourceRequest" "$B_CRR"
    wrk_run http_cr "CreateResource" postgres "$H_C" \
        CloudApiService.CreateResource application/x-amz-json-1.0 "$ACCOUNT" fixed "$J_CR"
}

phase_large() {
    local target=$BENCH_LARGE_ROWS
    if ((target <= BENCH_SMALL_ROWS)); then
        log "large: BENCH_LARGE_ROWS=$target, skipped"
        return 0
    fi
    stop_server
    log "large: bulk-seeding requests $((BENCH_SMALL_ROWS + 1))..$target"
    local t0=$SECONDS
    seed_sql "$BENCH_DIR/sql/bulk_seed.sql" "$((BENCH_SMALL_ROWS + 1))" "$target"
    local took=$((SECONDS - t0)) large
    large=$(stored_requests)
    log "large: seeded in ${took}s, $large stored requests"
    start_server postgres-large "postgres://postgres@127.0.0.1:$PG_PORT/statusgate"
    make_bodies
    note "- Flatness runs: $large stored requests (bulk seed took ${took}s), statusgate restarted on them"
    h2_run large_grpc_rrs "GetResourceRequestStatus (PENDING, $BENCH_READ_KEYS keys) @large" postgres \
        "$G_C" "$G_S" "$rrs_path" "${B_RRS[@]}"
    wrk_run large_http_rrs_rand "GetResourceRequestStatus (random of $target seeded) @large" postgres "$H_C" \
        CloudApiService.GetResourceRequestStatus application/x-amz-json-1.0 "$ACCOUNT" \
        random-request 1 "$target"
    h2_run large_grpc_list "ListResourceRequests (first page of 20) @large" postgres "$G_C" "$G_S" \
        "$RR_SERVICE/ListResourceRequests" "$B_LIST"
}

phase_sqlite() {
    stop_server
    SEEDED=""
    mkdir -p "$WORK/sqlite"
    start_server sqlite "sqlite://$WORK/sqlite/statusgate.db"
    make_hot_keys
    make_bodies
    note "- SQLite runs: database file in $BENCH_TMPDIR, hot keys made through the API"
    h2_run sqlite_grpc_rrs "GetResourceRequestStatus (PENDING, $BENCH_READ_KEYS keys)" sqlite "$G_C" "$G_S" \
        "$rrs_path" "${B_RRS[@]}"
    h2_run sqlite_grpc_cts "GetChangeTokenStatus (PENDING, $BENCH_READ_KEYS keys)" sqlite "$G_C" "$G_S" \
        "$cts_path" "${B_CTS[@]}"
    wrk_run sqlite_http_rrs "GetResourceRequestStatus (PENDING, $BENCH_READ_KEYS keys)" sqlite "$H_C" \
        CloudApiService.GetResourceRequestStatus application/x-amz-json-1.0 "$ACCOUNT" \
        keys RequestToken "${HOT_REQUESTS[@]}"
    h2_run sqlite_grpc_gct "GetChangeToken ($BENCH_SCOPES scopes)" sqlite "$G_C" "$G_S" \
        "$CT_SERVICE/GetChangeToken" "${B_GCT[@]}"
    h2_run sqlite_grpc_crr "CreateResourceRequest" sqlite "$G_C" "$G_S" "$RR_SERVICE/CreateResourceRequest" "$B_CRR"
    wrk_run sqlite_http_cr "CreateResource" sqlite "$H_C" \
        CloudApiService.CreateResource application/x-amz-json-1.0 "$ACCOUNT" fixed "$J_CR"
    local locked
    locked=$(grep -ci 'database is locked' "$SERVER_LOG" || true)
    section ""
    section "## SQLite"
    section ""
    section "- \`database is locked\` in the server log (RUST_LOG=$BENCH_RUST_LOG) over all SQLite runs: **$locked** (goal: 0)"
    if ((locked > 0)); then
        ERRORS_SEEN+=("sqlite: $locked 'database is locked' log lines")
        section ""
        section '```'
        grep -i 'database is locked' "$SERVER_LOG" | head -5 >>"$WORK/sections.md"
        section '```'
    fi
    stop_server
}

# ---- main ------------------------------------------------------------------------

mkdir -p "$BENCH_TMPDIR"
WORK=$(mktemp -d "$BENCH_TMPDIR/statusgate-bench.XXXXXX")
chmod 755 "$WORK"
mkdir -p "$WORK/runs"
: >"$WORK/results.tsv"
if [[ $(stat -f -c %T "$WORK") == tmpfs ]]; then
    die "BENCH_TMPDIR=$BENCH_TMPDIR is tmpfs: fsync would cost nothing; point it at a disk"
fi

ensure_tools
build_server
raise_fd_limit

: >"$WORK/notes.md"
: >"$WORK/sections.md"
note ""
note "## Setup"
note ""
note "- $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml migrations 2>/dev/null || echo ' (with uncommitted changes to src/)')"
note "- $(nproc) cores ($(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)); load generator, statusgate and Postgres share them"
note "- each run: ${DURATION_S}s measured after ${WARMUP_S}s warm-up; h2load $(h2load --version | awk '{print $2}'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $BENCH_LOADGEN_THREADS load-generator thread(s) per process"
note "- statusgate: release build, defaults$([[ -n $BENCH_SERVER_ARGS ]] && echo " plus $BENCH_SERVER_ARGS"), RUST_LOG=$BENCH_RUST_LOG"

if phase anchors || phase postgres; then
    start_postgres
fi
phase anchors && phase_anchors
phase postgres && phase_postgres
phase large && phase postgres && phase_large
stop_server
phase sqlite && phase_sqlite

mkdir -p "$(dirname "$BENCH_OUT")"
note "- wall-clock time of the whole benchmark: $(($(date +%s) - STARTED_AT))s"
cat "$WORK/sections.md" >>"$WORK/notes.md"
tool render "$WORK/results.tsv" "$BENCH_OUT" "statusgate benchmark" "$WORK/notes.md"
log "written to $BENCH_OUT"

if ((${#ERRORS_SEEN[@]} > 0)); then
    log "load runs reported errors: ${ERRORS_SEEN[*]}"
    if [[ "$BENCH_ALLOW_ERRORS" != 1 ]]; then
        die "errors under load (BENCH_ALLOW_ERRORS=1 to accept); logs in the work dir (BENCH_KEEP_WORKDIR=1 keeps it)"
    fi
fi
