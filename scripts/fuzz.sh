#!/usr/bin/env bash
# Runs every fuzz target of the module, one after the other, for FUZZTIME
# each (default 5s). Targets are discovered with `go test -list`, so new
# ones are picked up without editing this script. Each target starts from
# its committed seed corpus, testdata/fuzz/<Name>/ in its package, which
# plain `go test` also runs as regression cases (scripts/fuzz-corpus.sh
# refreshes the fuzz-found part of it).
#
#   scripts/fuzz.sh                 all packages
#   FUZZTIME=2m scripts/fuzz.sh ./parser/...
set -euo pipefail

cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-5s}"
go="${GO:-go}"
patterns=("$@")
[ ${#patterns[@]} -gt 0 ] || patterns=(./...)

ran=0
passed=0
failed=()
start=$SECONDS
while read -r pkg dir; do
  # Only packages with a fuzz function in a test file are compiled.
  grep -qsE '^func Fuzz' "$dir"/*_test.go || continue
  # -list prints the matching names, then "ok <pkg>"; a package that does
  # not build fails here.
  if ! names=$("$go" test -list '^Fuzz' "$pkg" 2>&1); then
    printf '%s\n' "$names"
    failed+=("$pkg (go test -list)")
    continue
  fi
  for name in $(printf '%s\n' "$names" | grep -E '^Fuzz[A-Za-z0-9_]*$' || true); do
    echo "--- fuzz $pkg $name ($fuzztime)"
    ran=$((ran + 1))
    # Go 1.26's fuzz coordinator can fail a run at its deadline with
    # "context deadline exceeded" and no failing input (golang/go#75804);
    # such a run is retried once. A real crasher is never retried.
    for attempt in 1 2; do
      if out=$("$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
        printf '%s\n' "$out" | tail -n 3
        passed=$((passed + 1))
        break
      fi
      printf '%s\n' "$out" | tail -n 40
      if [ "$attempt" = 1 ] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
        echo "--- retrying $name after a fuzz coordinator deadline error"
        continue
      fi
      failed+=("$pkg $name")
      break
    done
  done
done < <("$go" list -f '{{.ImportPath}} {{.Dir}}' "${patterns[@]}")

echo "fuzz: $passed passed, ${#failed[@]} failed ($ran targets, $fuzztime each, $((SECONDS - start))s)"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAIL fuzz %s\n' "${failed[@]}"
  exit 1
fi
