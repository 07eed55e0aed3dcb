#!/usr/bin/env bash
# Refreshes the committed seed corpora from what the fuzzers find.
#
# Each fuzz target has a seed corpus in its package, testdata/fuzz/<Name>/,
# in Go's corpus format: plain `go test` runs every file as a regression
# case, and `go test -fuzz` starts from them. Two kinds of files live there:
#
#   - hand-written inputs with descriptive names (BAD-INPUTS rows, edge
#     cases), and inputs that once failed (named by their hash): never
#     touched by this script;
#   - "fuzz-<hash>" files: a small, size-spread selection of the inputs a
#     fuzzing run found interesting, replaced by each run of this script.
#
# For each target: fuzz for FUZZTIME (0: only reselect from the cache),
# then keep up to PER_TARGET inputs of at most 4 KB from the fuzz cache
# ($(go env GOCACHE)/fuzz/<package>/<Name>), the smallest first and then
# evenly spread over the sizes, and run the target's corpus once.
#
#   scripts/fuzz-corpus.sh                      all packages, 30s each
#   FUZZTIME=0 PER_TARGET=10 scripts/fuzz-corpus.sh ./parser/...
#   RUN=FuzzValidJSON scripts/fuzz-corpus.sh ./parser/sio   matching targets only
set -euo pipefail

cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-30s}"
per_target="${PER_TARGET:-20}"
go="${GO:-go}"
patterns=("$@")
[ ${#patterns[@]} -gt 0 ] || patterns=(./...)
cache="$("$go" env GOCACHE)/fuzz"

while read -r pkg dir; do
  grep -qsE '^func Fuzz' "$dir"/*_test.go || continue
  names=$("$go" test -list '^Fuzz' "$pkg" | grep -E '^Fuzz[A-Za-z0-9_]*$' | grep -E "${RUN:-.}" || true)
  for name in $names; do
    if [ "$fuzztime" != 0 ]; then
      echo "--- fuzz $pkg $name ($fuzztime)"
      "$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -parallel "${PARALLEL:-1}" "$pkg" | tail -n 2
    fi
    out="$dir/testdata/fuzz/$name"
    mkdir -p "$out"
    rm -f "$out"/fuzz-*
    found="$cache/$pkg/$name"
    [ -d "$found" ] || { echo "$pkg $name: nothing in the cache"; continue; }
    # Inputs of at most 4 KB, smallest first.
    mapfile -t files < <(find "$found" -type f -size -4097c -printf '%s %p\n' | sort -n | cut -d' ' -f2-)
    n=${#files[@]}
    keep=$((n < per_target ? n : per_target))
    declare -A picked=()
    for ((i = 0; i < keep; i++)); do
      # Half the smallest, half spread evenly over the rest.
      if ((i < keep / 2)); then j=$i; else j=$(((i - keep / 2) * (n - keep / 2) / (keep - keep / 2) + keep / 2)); fi
      picked[$j]=1
    done
    for j in "${!picked[@]}"; do
      cp "${files[$j]}" "$out/fuzz-$(basename "${files[$j]}")"
    done
    unset picked
    echo "$pkg $name: kept ${keep} of ${n} cached inputs, $(find "$out" -type f | wc -l) files in the corpus"
    "$go" test -count=1 -run "^${name}\$" "$pkg" >/dev/null
  done
done < <("$go" list -f '{{.ImportPath}} {{.Dir}}' "${patterns[@]}")
