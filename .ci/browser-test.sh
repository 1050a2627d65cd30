#!/usr/bin/env bash
# Runs the operator console's browser test (tests/browser/console.test.mjs)
# against a statusgate binary: Debian's Chromium, driven by playwright-core,
# loads /console from servers the test starts itself (free ports, an SQLite
# file in a temporary directory, simulated provisioning), one in --auth none
# mode and one in --auth sigv4 mode, while boto3 makes the requests and
# change tokens the page must show. Screenshots of the main views are
# written to docs/console-*.png (SCREENSHOT_DIR to put them elsewhere).
#
#   bash .ci/browser-test.sh target/debug/statusgate
#
# Installs what is missing, and says what it cannot: Debian's chromium
# (apt-get, as root or through sudo; no browser is ever downloaded by npm),
# the test's npm packages (npm ci in tests/browser, from package-lock.json),
# and boto3 into a throwaway virtualenv (STATUSGATE_TEST_PYTHON names a
# python that has boto3 already, to skip that). Needs Node.js 20 or later.
set -euo pipefail

fail() {
    printf 'browser-test: FAILED: %s\n' "$*" >&2
    exit 1
}
note() { printf '==> %s\n' "$*"; }

[ $# -eq 1 ] || fail "usage: bash .ci/browser-test.sh path/to/statusgate"
[ -f "$1" ] && [ -x "$1" ] || fail "$1 is not an executable statusgate binary"
binary="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
ci_dir="$(cd "$(dirname "$0")" && pwd)"
test_dir="$(dirname "$ci_dir")/tests/browser"
[ -f "$test_dir/package-lock.json" ] || fail "no package-lock.json in $test_dir"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        fail "installing needs root or sudo: $*"
    fi
}
apt_updated=no
apt_install() {
    note "installing $* from Debian"
    command -v apt-get >/dev/null || fail "$* missing, and no apt-get to install it with"
    if [ "$apt_updated" = no ]; then
        as_root apt-get update -qq || fail "apt-get update failed"
        apt_updated=yes
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
        || fail "cannot install $* with apt-get"
}

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    [ "$chromium" = /usr/bin/chromium ] || fail "CHROMIUM=$chromium is not an executable"
    apt_install chromium
fi
[ -x "$chromium" ] || fail "Debian's chromium is installed but $chromium is missing"
"$chromium" --version 2>/dev/null | grep -i chromium || fail "$chromium --version does not answer"

command -v node >/dev/null || apt_install nodejs
command -v npm >/dev/null || apt_install npm
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || fail "Node.js 20 or later is needed (playwright-core), this is $(node --version)"
command -v python3 >/dev/null || apt_install python3 python3-venv

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# npm ci only when the installed driver is not the locked one.
locked="$(cd "$test_dir" && node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')"
installed="$(cd "$test_dir" && node -p 'try { require("./node_modules/playwright-core/package.json").version } catch { "" }')"
if [ "$installed" != "$locked" ]; then
    note "npm ci in tests/browser (playwright-core $locked)"
    if ! (cd "$test_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) >"$work/npm.log" 2>&1; then
        cat "$work/npm.log" >&2
        fail "npm ci in tests/browser"
    fi
fi

python="${STATUSGATE_TEST_PYTHON:-}"
if [ -n "$python" ]; then
    "$python" -c 'import boto3' 2>/dev/null || fail "STATUSGATE_TEST_PYTHON=$python cannot import boto3"
else
    note "installing boto3 into a throwaway virtualenv"
    if ! python3 -m venv "$work/venv" >"$work/venv.log" 2>&1; then
        apt_install python3-venv
        python3 -m venv "$work/venv" >"$work/venv.log" 2>&1 \
            || { cat "$work/venv.log" >&2; fail "cannot create a virtualenv (is python3-venv installed?)"; }
    fi
    if ! "$work/venv/bin/pip" install --quiet --disable-pip-version-check boto3 >"$work/pip.log" 2>&1; then
        cat "$work/pip.log" >&2
        fail "pip install boto3"
    fi
    python="$work/venv/bin/python"
fi

# Only the test's credentials count: not this machine's profiles or config.
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
    AWS_DEFAULT_REGION AWS_REGION AWS_ENDPOINT_URL

note "running the console's browser test ($("$binary" --version))"
(
    cd "$test_dir"
    STATUSGATE_BINARY="$binary" STATUSGATE_TEST_PYTHON="$python" CHROMIUM="$chromium" \
        node --test --test-reporter=spec console.test.mjs
) || fail "the console's browser test (the server log and a screenshot path are printed above)"
note "console browser test passed"
