#!/bin/bash
# Signals overhead (issue 5; docs/BENCHMARKS.md): `provindex index` with and
# without signal/license extraction (hidden `--no-signals` switch), ROUNDS
# rounds (default 6), alternating; prints user, sys and wall seconds per run,
# then min and median user+sys (and user alone) per mode and the overhead.
# WORKERS (default 2) is passed as --workers.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-${CARGO_TARGET_DIR:-/root/.cache/provindex-target-release}/release/provindex}
CORPUS=${CORPUS:-$ROOT/bench/out/warc-200m/corpus-00000.warc.gz}
ROUNDS=${ROUNDS:-6}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for round in $(seq 1 "$ROUNDS"); do
  for mode in signals no-signals; do
    rm -rf "$OUT/idx"
    flag=()
    [ "$mode" = no-signals ] && flag=(--no-signals)
    /usr/bin/time -o "$OUT/time" -f "$mode round=$round user=%U sys=%S wall=%e maxrss_kb=%M" \
      "$BIN" index "$CORPUS" --out "$OUT/idx" --workers ${WORKERS:-2} --built-at 0 "${flag[@]}" > /dev/null
    cat "$OUT/time" | tee -a "$OUT/all"
  done
done
python3 - "$OUT/all" <<'PY'
import re, statistics, sys
cpu = {"signals": [], "no-signals": []}
user = {"signals": [], "no-signals": []}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) round=\d+ user=([\d.]+) sys=([\d.]+)", line)
    if m:
        cpu[m.group(1)].append(float(m.group(2)) + float(m.group(3)))
        user[m.group(1)].append(float(m.group(2)))
# user+sys is the measure; user alone is printed too, since sys time (mostly
# the kernel zeroing pages for the allocator) varies most between runs.
for label, d in (("user+sys", cpu), ("user", user)):
    s, n = d["signals"], d["no-signals"]
    for name, f in (("min", min), ("median", statistics.median)):
        print(f"{label} {name}: signals {f(s):.2f} s, no-signals {f(n):.2f} s, overhead {100 * (f(s) / f(n) - 1):+.1f}%")
PY
