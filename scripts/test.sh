#!/usr/bin/env bash
# Everything a contributor must pass (`make test`, called by .ci/run):
#
#   1. go vet ./...
#   2. go test -race -count=1 ./...
#   3. a fuzz smoke run of every fuzz target (scripts/fuzz.sh, FUZZTIME each)
#   4. a soak run of SOAKTIME (default 1m; `make soak`)
#   5. the Node compatibility tests (`make compat`: npm ci when node_modules
#      is missing or stale, the Go test servers, node --test)
#   6. the browser tests (`make browser`), when browser-tests/ has any
#
# Every step runs even when an earlier one failed. A summary follows, ending
# with one "N passed, N failed, N skipped" line over all steps; the exit
# status is non-zero when anything failed.
set -uo pipefail

cd "$(dirname "$0")/.."
GO="${GO:-go}"
MAKE="${MAKE:-make}"
NODE="${NODE:-node}"
export FUZZTIME="${FUZZTIME:-5s}"
SOAKTIME="${SOAKTIME:-1m}"

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

total_pass=0 total_fail=0 total_skip=0 status=0
summary=()

# counts FILE REGEX: reads "N passed, N failed[, N skipped]" from the last
# line of FILE matching REGEX into pass/fail/skip.
counts() {
  local line
  line="$(grep -E "$2" "$1" | tail -n 1)"
  pass="$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$line")"
  fail="$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$line")"
  skip="$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line")"
}

# record NAME RC SECONDS: adds a step's result to the summary.
record() {
  local name="$1" rc="$2" secs="$3" result=ok
  pass="${pass:-0}" fail="${fail:-0}" skip="${skip:-0}"
  if [ "$rc" -ne 0 ]; then
    result=FAIL
    status=1
    # A step that failed without a failure counted (a crash, a build
    # error) still counts as one.
    [ "$fail" -gt 0 ] || fail=1
  fi
  total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
  summary+=("$(printf '%-12s %-4s %5ss   %s passed, %s failed, %s skipped' "$name" "$result" "$secs" "$pass" "$fail" "$skip")")
}

banner() { printf '\n==> %s\n' "$*"; }

banner "go vet ./..."
start=$SECONDS
"$GO" vet ./...
rc=$?
pass=$((rc == 0)) fail=$((rc != 0)) skip=0
record "go vet" "$rc" $((SECONDS - start))

banner "go test -race -count=1 ./..."
start=$SECONDS
"$GO" test -race -count=1 -json ./... 2>&1 | "$NODE" scripts/gotest-report.mjs | tee "$logs/gotest"
rc=$((PIPESTATUS[0] | PIPESTATUS[1]))
counts "$logs/gotest" '^go test: [0-9]+ passed'
record "go test" "$rc" $((SECONDS - start))

banner "fuzz smoke run (scripts/fuzz.sh, $FUZZTIME per target)"
start=$SECONDS
GO="$GO" scripts/fuzz.sh 2>&1 | tee "$logs/fuzz"
rc=${PIPESTATUS[0]}
counts "$logs/fuzz" '^fuzz: [0-9]+ passed'
record "fuzz" "$rc" $((SECONDS - start))

banner "soak (make soak SOAK=$SOAKTIME)"
start=$SECONDS
"$MAKE" --no-print-directory soak SOAK="$SOAKTIME" 2>&1 | tee "$logs/soak"
rc=${PIPESTATUS[0]}
pass=$((rc == 0)) fail=$((rc != 0)) skip=0
record "soak" "$rc" $((SECONDS - start))

# node_test NAME TARGET: runs `make TARGET` (a node --test run with the
# spec reporter) and records its counts.
node_test() {
  local name="$1" target="$2" log="$logs/$2" cancelled
  start=$SECONDS
  "$MAKE" --no-print-directory "$target" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # The spec reporter ends with "ℹ pass N", "ℹ fail N", "ℹ skipped N", ...
  pass="$(sed -nE 's/^ℹ pass ([0-9]+)$/\1/p' "$log" | tail -n 1)"
  fail="$(sed -nE 's/^ℹ fail ([0-9]+)$/\1/p' "$log" | tail -n 1)"
  skip="$(sed -nE 's/^ℹ (skipped|todo) ([0-9]+)$/\2/p' "$log" | awk '{s += $1} END {print s + 0}')"
  cancelled="$(sed -nE 's/^ℹ cancelled ([0-9]+)$/\1/p' "$log" | tail -n 1)"
  fail=$((${fail:-0} + ${cancelled:-0}))
  record "$name" "$rc" $((SECONDS - start))
}

banner "Node compatibility tests (make compat)"
node_test compat compat

if compgen -G 'browser-tests/*.test.mjs' >/dev/null; then
  banner "browser tests (make browser)"
  node_test browser browser
fi

banner "summary"
printf '%s\n' "${summary[@]}"
printf 'total: %s passed, %s failed, %s skipped\n' "$total_pass" "$total_fail" "$total_skip"
exit "$status"
