#!/usr/bin/env bash
# One-process builds of two provindex binaries against `zcat` of the same
# WARC.gz files (issue 17), alternated round by round and each pinned to one
# core (`taskset -c 0`), so "× zcat" is per core and both binaries meet the
# same moments of a noisy machine. Prints, per round, the CPU seconds
# (user + sys) of zcat, OLD and NEW and each build's ratio to zcat.
#
#   OLD=/path/old/provindex NEW=/path/new/provindex bench/scale/zcat_alternate.sh
#
# Env:
#   CORPUS   directory of *.warc.gz (default bench/out/pipeline-1g, built by
#            bench/corpus/build_corpus.py; see bench/scale/build.sh)
#   FILES    how many of its files, in name order (default 12)
#   ROUNDS   rounds (default 8)
#   CORE     the core to pin to (default 0)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CORPUS="${CORPUS:-$ROOT/bench/out/pipeline-1g}"
FILES="${FILES:-12}"
ROUNDS="${ROUNDS:-8}"
CORE="${CORE:-0}"
: "${OLD:?set OLD to a provindex binary}" "${NEW:?set NEW to a provindex binary}"
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed" >&2; exit 1; }
mapfile -t INPUTS < <(find "$CORPUS" -maxdepth 1 -name '*.warc.gz' | sort | head -n "$FILES")
[ "${#INPUTS[@]}" -eq "$FILES" ] || { echo "$CORPUS holds fewer than $FILES *.warc.gz" >&2; exit 1; }
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

cpu() { # command... -> user + sys CPU seconds
  /usr/bin/time -f '%U %S' -o "$OUT/time" "$@" > /dev/null
  awk '{print $1 + $2}' "$OUT/time"
}
echo "| round | zcat CPU s | old CPU s | new CPU s | old × zcat | new × zcat |"
echo "|---|---:|---:|---:|---:|---:|"
for round in $(seq 1 "$ROUNDS"); do
  zcat_s=$(cpu taskset -c "$CORE" zcat "${INPUTS[@]}")
  row="| $round | $zcat_s"
  ratios=""
  for bin in "$OLD" "$NEW"; do
    rm -rf "$OUT/index"
    s=$(cpu taskset -c "$CORE" "$bin" index "${INPUTS[@]}" --out "$OUT/index" \
      --built-at 0 --workers 1 --progress off)
    row="$row | $s"
    ratios="$ratios | $(awk -v z="$zcat_s" -v b="$s" 'BEGIN { printf "%.3f", z / b }')"
  done
  echo "$row$ratios |"
done
