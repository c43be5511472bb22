#!/usr/bin/env bash
# Every check and test of hoard: formatting, lints, type checks, the debug build, cargo test and
# the ava suites. Prints one closing line "N passed, N failed" counting cargo's and ava's tests
# (a failed check counts as one failure) and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

# Tests derive keys with argon2id's cheapest costs (never used outside tests).
export HOARD_TESTONLY_WEAKEN_KDF=1
# Every test's temp folders go in one folder of this run, removed at the end (a crashed or
# killed test would otherwise leave its repositories behind in /tmp, run after run).
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/hoard-tests-XXXXXX")
export TMPDIR
chmod 755 "$TMPDIR"
logs=$(mktemp -d)
trap 'rm -rf --one-file-system "$TMPDIR"' EXIT
checks_failed=0

check() {
  echo "== $*"
  if ! "$@"; then
    echo "FAILED: $*"
    checks_failed=$((checks_failed + 1))
  fi
}

check cargo fmt --all --check
check cargo clippy --workspace --exclude hoard-node --all-targets --quiet -- -D warnings
# The binding's lib only: napi-derive registers nothing in a test build, so its items look unused.
check cargo clippy -p hoard-node --quiet -- -D warnings
check npm run --silent build:native
check npm run --silent build:ts
check npm run --silent build:test

echo "== cargo test"
cargo test --workspace --exclude hoard-node 2>&1 | tee "$logs/cargo.log"
cargo_rc=${PIPESTATUS[0]}

echo "== ava"
npx ava --tap 2>&1 | tee "$logs/ava.log"
ava_rc=${PIPESTATUS[0]}

sum() { awk -v pat="$1" -v field="$2" '$0 ~ pat { for (i = 1; i <= NF; i++) if ($i ~ field) n += $(i - 1) + 0 } END { print n + 0 }' "$3"; }
cargo_passed=$(sum '^test result:' '^passed' "$logs/cargo.log")
cargo_failed=$(sum '^test result:' '^failed' "$logs/cargo.log")
ava_passed=$(awk '/^# pass / { n = $3 } END { print n + 0 }' "$logs/ava.log")
ava_failed=$(awk '/^# fail / { n = $3 } END { print n + 0 }' "$logs/ava.log")
# A runner that died without a summary still counts as a failure.
[ "$cargo_rc" -ne 0 ] && [ "$cargo_failed" -eq 0 ] && cargo_failed=1
[ "$ava_rc" -ne 0 ] && [ "$ava_failed" -eq 0 ] && ava_failed=1

passed=$((cargo_passed + ava_passed))
failed=$((cargo_failed + ava_failed + checks_failed))
echo
echo "cargo test: $cargo_passed passed, $cargo_failed failed; ava: $ava_passed passed, $ava_failed failed; checks failed: $checks_failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
