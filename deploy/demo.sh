#!/usr/bin/env bash
# README's first command: build provindex, index the bundled real sample
# corpus, serve the index on a loopback port and answer lookups from it.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/env.sh

echo "==> building provindex (the first build compiles RocksDB: about 25 minutes on 2 cores)"
# The same package and target selection as tests/run.sh: a different selection
# can unify dependency features differently and rebuild RocksDB from scratch.
cargo build --locked --workspace --all-targets
bin="$CARGO_TARGET_DIR/debug/provindex"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> indexing tests/data/sample"
"$bin" index tests/data/sample --out "$work/index" --crawl sample-2014-2020

echo "==> serving the index"
"$bin" serve --index "$work/index" --listen 127.0.0.1:0 >"$work/serve.out" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^listening on ' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
addr="$(sed -n 's/^listening on //p' "$work/serve.out")"
[ -n "$addr" ] || { echo "server did not start" >&2; exit 1; }
echo "    listening on $addr"

echo "==> provindex lookup url http://data.gov.uk/ --match exact"
"$bin" lookup url http://data.gov.uk/ --server "$addr"

content_id="$("$bin" lookup url http://data.gov.uk/ --server "$addr" --json \
  | sed -n 's/.*"content_id": "\([0-9a-f]\{32\}\)".*/\1/p' | head -n 1)"
echo "==> provindex lookup content $content_id"
"$bin" lookup content "$content_id" --server "$addr"
