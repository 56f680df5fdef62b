#!/usr/bin/env bash
# Incremental build cost (issue 18): a corpus split 90/10; the 10 % added to an
# index of the 90 % (`provindex index NEW --base BASE`) next to the full
# rebuild of both parts (the peer an incremental build replaces), in the same
# run on the same data, each timed with /usr/bin/time -v (wall, user + sys
# CPU, maximum RSS). The script checks that both give the same digest. See
# docs/BENCHMARKS.md, "Incremental build".
#
#   bench/incremental/run.sh
#
# Env:
#   CORPUS   a JSONL(.gz) file of passages (default
#            bench/out/passages-100k/corpus-00000.jsonl.gz, made by
#            python3 bench/corpus/build_corpus.py --format passages …, see
#            bench/corpus/README.md)
#   WORKERS  worker threads (default 2)
#   CARGO_TARGET_DIR  (default /root/.cache/provindex-target-release)
#   BIN      the provindex binary (default its release build there)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CORPUS="${CORPUS:-bench/out/passages-100k/corpus-00000.jsonl.gz}"
WORKERS="${WORKERS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/provindex-target-release}"
BIN="${BIN:-$CARGO_TARGET_DIR/release/provindex}"
OUT="bench/out/incremental-bench"
[ -x "$BIN" ] || cargo build --release --workspace --bins
[ -f "$CORPUS" ] || { echo "no corpus at $CORPUS (see bench/corpus/README.md)" >&2; exit 2; }
rm -rf "$OUT" && mkdir -p "$OUT"

lines=$(zcat -f "$CORPUS" | wc -l)
cut=$((lines * 9 / 10))
zcat -f "$CORPUS" | awk -v cut="$cut" -v a="$OUT/part-90.jsonl" -v b="$OUT/part-10.jsonl" \
  'NR <= cut { print > a; next } { print > b }'

run() { # name, args...
  local name=$1; shift
  /usr/bin/time -v "$BIN" "$@" --built-at 0 --workers "$WORKERS" --progress off \
    > "$OUT/$name.out" 2> "$OUT/$name.time"
  local wall cpu rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$OUT/$name.time")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.1f", u + s}' "$OUT/$name.time")
  rss=$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2 / 1024}' "$OUT/$name.time")
  echo "| $name | $wall | $cpu | $rss |"
}

echo "corpus: $CORPUS ($lines records; base $cut, new $((lines - cut)))"
echo "| run | wall | CPU s (user+sys) | max RSS MiB |"
echo "|---|---|---|---|"
run full index "$OUT/part-90.jsonl" "$OUT/part-10.jsonl" --out "$OUT/full"
run base index "$OUT/part-90.jsonl" --out "$OUT/base"
run incremental index "$OUT/part-10.jsonl" --base "$OUT/base" --out "$OUT/incremental"
full=$("$BIN" info "$OUT/full" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
incremental=$("$BIN" info "$OUT/incremental" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["digest"])')
echo "digest full $full, incremental $incremental"
[ "$full" = "$incremental" ] || { echo "DIGESTS DIFFER" >&2; exit 1; }
