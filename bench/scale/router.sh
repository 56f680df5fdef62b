#!/usr/bin/env bash
# LookupUrl (or LookupContent, RPC=content) through the router vs direct (issue 17). The same corpus is built
# once as one partition and once as PARTITIONS partitions; `provindex serve`
# over the one-partition index is "direct"; "router" is `provindex router` in
# front of two partition servers (`serve --partitions`, each half of the
# partitions) of the partitioned build. The load generator
# (bench/loadgen, a separate process) walks the same URL sample against both,
# closed loop at each CONCURRENCY and open loop at each RATE, and reports p50
# and p99 latency. All processes share the machine's cores.
#
#   bench/scale/router.sh
#
# Env: CORPUS (default bench/out/passages-100k: corpus-*.jsonl.gz of
#      `python3 bench/corpus/build_corpus.py --unit passage --records 100000
#      --format jsonl --seed 1 --mirror-hosts 3000 --records-per-file 100000`),
#      PARTITIONS (4), CONCURRENCY ("1 32"), RATES ("1000"), WARMUP (3),
#      DURATION (10), SAMPLE (20000), BIN_DIR (default the release build dir
#      /root/.cache/provindex-target-release/release: provindex and
#      provindex-loadgen), PROVINDEX and LOADGEN (default in BIN_DIR), RPC
#      (url, or content: LookupContent of the sample's contents), OUT (the
#      indexes and results; default bench/out/scale).
# Output: a markdown table on stdout; JSON lines in bench/out/scale/router.jsonl.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CORPUS="${CORPUS:-bench/out/passages-100k}"
PARTITIONS="${PARTITIONS:-4}"
CONCURRENCY="${CONCURRENCY:-1 32}"
RATES="${RATES:-1000}"
WARMUP="${WARMUP:-3}"
DURATION="${DURATION:-10}"
SAMPLE="${SAMPLE:-20000}"
BIN_DIR="${BIN_DIR:-/root/.cache/provindex-target-release/release}"
PROVINDEX="${PROVINDEX:-$BIN_DIR/provindex}"
LOADGEN="${LOADGEN:-$BIN_DIR/provindex-loadgen}"
RPC="${RPC:-url}"
OUT="${OUT:-bench/out/scale}"
NAME="$(basename "$CORPUS")"
IDX1="$OUT/router-$NAME-1"
IDXP="$OUT/router-$NAME-$PARTITIONS"
URLS="$OUT/router-$NAME-urls.txt"
RESULTS="$OUT/router.jsonl"
mkdir -p "$OUT"
for b in "$PROVINDEX" "$LOADGEN"; do
    [ -x "$b" ] || { echo "missing $b (cargo build --release --workspace --bins)" >&2; exit 1; }
done

build() {
    local idx="$1"
    shift
    if [ ! -f "$idx/.bench-done" ]; then
        rm -rf "$idx"
        "$PROVINDEX" index "$CORPUS"/corpus-*.jsonl.gz --out "$idx" --built-at 0 --progress off "$@" >&2
        touch "$idx/.bench-done"
    fi
}
build "$IDX1"
build "$IDXP" --index-partitions "$PARTITIONS"
[ -s "$URLS" ] || python3 bench/query/prepare.py urls "$CORPUS" "$URLS" "$SAMPLE"

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# start NAME CMD...: runs CMD in the background (its PID kept for cleanup)
start() {
    local name="$1"
    shift
    "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" &
    PIDS+=($!)
}

# address NAME: waits for NAME's "listening on" line, prints its URL
address() {
    for _ in $(seq 1 600); do
        if grep -q '^listening on ' "$OUT/$1.out" 2>/dev/null; then
            echo "http://$(sed -n 's/^listening on //p' "$OUT/$1.out" | head -n1)"
            return
        fi
        sleep 0.1
    done
    echo "$1 did not start" >&2
    cat "$OUT/$1.err" >&2
    exit 1
}

HALF=$((PARTITIONS / 2))
LOW="$(seq -s, 0 $((HALF - 1)))"
HIGH="$(seq -s, "$HALF" $((PARTITIONS - 1)))"
start direct "$PROVINDEX" serve --index "$IDX1" --listen 127.0.0.1:0
start part-low "$PROVINDEX" serve --index "$IDXP" --partitions "$LOW" --listen 127.0.0.1:0
start part-high "$PROVINDEX" serve --index "$IDXP" --partitions "$HIGH" --listen 127.0.0.1:0
DIRECT="$(address direct)"
P_LOW="$(address part-low)"
P_HIGH="$(address part-high)"
start router "$PROVINDEX" router --listen 127.0.0.1:0 --backend "$P_LOW" --backend "$P_HIGH"
ROUTER="$(address router)"
echo "== direct $DIRECT, router $ROUTER over $P_LOW ($LOW) and $P_HIGH ($HIGH)" >&2

: > "$RESULTS"
measure() {
    local target="$1" addr="$2"
    shift 2
    "$LOADGEN" grpc --addr "$addr" --rpc "$RPC" --connections 4 --urls "$URLS" \
        --warmup "$WARMUP" --duration "$DURATION" --label "$target" "$@" | tail -n1 > "$OUT/line.json"
    python3 - "$OUT/line.json" "$target" "$(cut -d' ' -f1 /proc/loadavg)" >> "$RESULTS" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read())
r["via"] = sys.argv[2]
r["load_before"] = sys.argv[3]
print(json.dumps(r))
PY
}
for c in $CONCURRENCY; do
    for target in direct router; do
        addr="$DIRECT"; [ "$target" = router ] && addr="$ROUTER"
        echo "== closed loop, $c in flight, $target" >&2
        measure "$target" "$addr" --concurrency "$c"
    done
done
for rate in $RATES; do
    for target in direct router; do
        addr="$DIRECT"; [ "$target" = router ] && addr="$ROUTER"
        echo "== open loop, $rate requests/s, $target" >&2
        measure "$target" "$addr" --concurrency 64 --rate "$rate"
    done
done

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| via | load | requests/s | p50 µs | p99 µs | errors | empty answers | load average before |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for r in rows:
    load = ("open loop, %d/s offered" % r["rate"]) if r.get("rate") else ("closed loop, %d in flight" % r["concurrency"])
    print("| %s | %s | %.0f | %.0f | %.0f | %d | %d | %s |" % (r["via"], load, r["throughput"], r["p50_us"],
          r["p99_us"], r["errors"], r["empty"], r["load_before"]))
PY
