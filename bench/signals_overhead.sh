#!/bin/bash
# Signals overhead (issue 5; docs/BENCHMARKS.md): `provindex index` with and
# without signal/license extraction (hidden `--no-signals` switch), 3 rounds,
# alternating; prints user, sys and wall seconds per run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-/root/.cache/provindex-target-release}/release/provindex}
CORPUS=${CORPUS:-$ROOT/bench/out/warc-200m/corpus-00000.warc.gz}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for round in 1 2 3; do
  for mode in signals no-signals; do
    rm -rf "$OUT/idx"
    flag=()
    [ "$mode" = no-signals ] && flag=(--no-signals)
    /usr/bin/time -o "$OUT/time" -f "$mode round=$round user=%U sys=%S wall=%e maxrss_kb=%M" \
      "$BIN" index "$CORPUS" --out "$OUT/idx" --workers 2 --built-at 0 "${flag[@]}" > /dev/null
    cat "$OUT/time"
  done
done
