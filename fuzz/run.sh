#!/usr/bin/env bash
# Runs every fuzz target one after another (fuzz/README.md).
#   bash fuzz/run.sh -max_total_time=20     # CI's bounded run
#   bash fuzz/run.sh -runs=10000000         # the documented long runs
# The libFuzzer options given apply to every target. New inputs go to
# fuzz/target/corpus/<target> (not committed); the seeds in
# fuzz/corpus/<target> are read, never written. A crash fails the script
# and leaves its input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"

fail() { printf '\nfuzz: FAILED: %s\n' "$*" >&2; exit 1; }

TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"
TARGETS=(aws_json query_form sigv4_parse sigv4_verify)
[ "$#" -gt 0 ] || set -- -max_total_time=20

rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1 \
    || fail "no $TOOLCHAIN toolchain (rustup toolchain install $TOOLCHAIN --profile minimal)"
cargo fuzz --version >/dev/null 2>&1 \
    || fail "no cargo-fuzz (cargo install cargo-fuzz --locked --version 0.13.2)"

# Safe Rust gains little from AddressSanitizer; without it the targets run
# about twice as fast. Debug assertions turn on overflow checks.
BUILD=(--sanitizer none --debug-assertions)
cargo "+$TOOLCHAIN" fuzz build "${BUILD[@]}" || fail "cargo fuzz build"
for target in "${TARGETS[@]}"; do
    mkdir -p "target/corpus/$target" "corpus/$target"
    printf '\n==> fuzz %s %s\n' "$target" "$*"
    # One job in one worker process: libFuzzer writes its log to fuzz-0.log.
    rm -f fuzz-0.log
    status=0
    cargo "+$TOOLCHAIN" fuzz run "${BUILD[@]}" "$target" \
        "target/corpus/$target" "corpus/$target" -- -jobs=1 -workers=1 "$@" || status=$?
    mkdir -p target/logs
    if [ -f fuzz-0.log ]; then
        mv fuzz-0.log "target/logs/$target.log"
        grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)|ERROR|panicked|SUMMARY' "target/logs/$target.log" || true
    fi
    [ "$status" -eq 0 ] || {
        tail -n 40 "target/logs/$target.log" 2>/dev/null || true
        fail "fuzz target $target (its input is in fuzz/artifacts/$target/)"
    }
done
