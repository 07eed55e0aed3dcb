#!/usr/bin/env bash
# Starts two nodes of examples/cluster, on :3001 and :3002, sharing the
# Redis at $REDIS_ADDR (default 127.0.0.1:6379). Ctrl-C stops both; so
# does either one exiting. `make cluster` runs this from the repository
# root.
set -euo pipefail

cd "$(dirname "$0")/../.."
GO="${GO:-go}"
REDIS_ADDR="${REDIS_ADDR:-127.0.0.1:6379}"

dir="$(mktemp -d)"
pids=()
cleanup() {
  if [ "${#pids[@]}" -gt 0 ]; then
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$GO" build -o "$dir/cluster" ./examples/cluster
for port in 3001 3002; do
  "$dir/cluster" -addr ":$port" -redis "$REDIS_ADDR" &
  pids+=("$!")
done
# Until the first node exits.
wait -n
