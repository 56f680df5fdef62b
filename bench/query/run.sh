#!/usr/bin/env bash
# Query service (issue 7): LookupUrl / LookupContent latency and throughput of
# `provindex serve` at fixed concurrency, index bytes per capture, and pywb's
# CDX server answering the same URL lookups over a CDXJ index of the same
# captures, in the same run.
#
#   bench/query/run.sh
#
# Corpus (cached in bench/out/query/, git-ignored), from the project's builder:
#   python3 bench/corpus/build_corpus.py --out bench/out/query/corpus-$RECORDS \
#     --unit passage --records $RECORDS --format jsonl --seed 1 \
#     --mirror-hosts 3000 --records-per-file 100000
# Index: provindex index <corpus>/corpus-*.jsonl.gz --out bench/out/query/index-$RECORDS --built-at 0
# pywb: `wayback` (PyPI pywb, venv bench/out/venv-pywb) over collection "bench"
#   whose only index is a CDXJ of every record (bench/query/prepare.py cdxj).
# Load: bench/loadgen (provindex-loadgen), a separate process, closed loop:
#   C requests in flight, WARMUP s not recorded, then DURATION s measured;
#   URL lookups walk the same URL sample (SAMPLE distinct corpus URLs) on both
#   systems; LookupContent walks content ids resolved from those URLs.
#   Server and load generator share the machine's cores.
#
# Env: RECORDS (1000000), CONCURRENCY ("32 64"), WARMUP (3), DURATION (10),
#      SAMPLE (100000), LOADGEN_THREADS (1), CONNECTIONS (4),
#      CLIENTS ("default quickack": each measurement with a default client, then
#      with provindex-loadgen --quickack, a client that never delays its ACKs;
#      see docs/BENCHMARKS.md on the 40 ms stall);
#      RATES (""): open-loop runs after the closed-loop ones, LookupUrl and
#      LookupContent each offered RATE requests/s by RATE_CONCURRENCY (64)
#      workers (loadgen --rate): latency at a fixed load, not at saturation;
#      CARGO_TARGET_DIR is honoured.
# Output: the markdown table on stdout; JSON lines in bench/out/query/results.jsonl.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
RECORDS="${RECORDS:-1000000}"
CONCURRENCY="${CONCURRENCY:-32 64}"
WARMUP="${WARMUP:-3}"
DURATION="${DURATION:-10}"
SAMPLE="${SAMPLE:-100000}"
LOADGEN_THREADS="${LOADGEN_THREADS:-1}"
CONNECTIONS="${CONNECTIONS:-4}"
CLIENTS="${CLIENTS:-default quickack}"
RATES="${RATES:-}"
RATE_CONCURRENCY="${RATE_CONCURRENCY:-64}"
OUT="bench/out/query"
CORPUS="$OUT/corpus-$RECORDS"
IDX="$OUT/index-$RECORDS"
VENV="bench/out/venv-pywb"
PYWB_DIR="$OUT/pywb-$RECORDS"
URLS="$OUT/urls-$RECORDS.txt"
COLL="bench"
mkdir -p "$OUT"

if [ ! -f "$CORPUS/manifest.json" ]; then
    echo "== building the corpus into $CORPUS" >&2
    python3 bench/corpus/build_corpus.py --out "$CORPUS" --unit passage --records "$RECORDS" \
        --format jsonl --seed 1 --mirror-hosts 3000 --records-per-file 100000 >&2
fi

echo "== building provindex and provindex-loadgen (release)" >&2
cargo build -q --release --locked --workspace --bins >&2
BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/release"
PROVINDEX="$BIN_DIR/provindex"
LOADGEN="$BIN_DIR/provindex-loadgen"

if [ ! -f "$IDX/.bench-done" ]; then
    echo "== indexing $CORPUS into $IDX" >&2
    rm -rf "$IDX" "$IDX.staging"
    /usr/bin/time -f '%e s wall, %U s user, %S s sys, %M KB max RSS' -o "$OUT/index-time.txt" \
        "$PROVINDEX" index "$CORPUS"/corpus-*.jsonl.gz --out "$IDX" --built-at 0 >&2
    cat "$OUT/index-time.txt" >&2
    touch "$IDX/.bench-done"
fi
"$PROVINDEX" info "$IDX" --json > "$OUT/info.json"

if [ ! -s "$URLS" ]; then
    python3 bench/query/prepare.py urls "$CORPUS" "$URLS" "$SAMPLE"
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV" >&2
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c "import pywb" 2>/dev/null || "$VENV/bin/pip" install -q pywb >&2
if [ ! -s "$PYWB_DIR/collections/$COLL/indexes/index.cdxj" ]; then
    echo "== pywb collection $PYWB_DIR/collections/$COLL" >&2
    rm -rf "$PYWB_DIR"
    mkdir -p "$PYWB_DIR"
    (cd "$PYWB_DIR" && "$ROOT/$VENV/bin/wb-manager" init "$COLL" >&2)
    "$VENV/bin/python" bench/query/prepare.py cdxj "$CORPUS" "$PYWB_DIR/collections/$COLL/indexes/index.cdxj"
fi

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "== starting provindex serve" >&2
"$PROVINDEX" serve --index "$IDX" --listen 127.0.0.1:0 > "$OUT/serve.out" 2> "$OUT/serve.err" &
PIDS+=($!)
for _ in $(seq 1 300); do grep -q '^listening on' "$OUT/serve.out" 2>/dev/null && break; sleep 0.1; done
GRPC="http://$(sed -n 's/^listening on //p' "$OUT/serve.out")"
[ "$GRPC" != "http://" ] || { cat "$OUT/serve.err" >&2; exit 1; }

PYWB_PORT="${PYWB_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
echo "== starting pywb wayback on 127.0.0.1:$PYWB_PORT" >&2
(cd "$PYWB_DIR" && exec "$ROOT/$VENV/bin/wayback" -b 127.0.0.1 -p "$PYWB_PORT") > "$OUT/pywb.out" 2>&1 &
PIDS+=($!)
PREFIX="/$COLL/cdx?url="
for _ in $(seq 1 300); do
    curl -sf -o /dev/null "http://127.0.0.1:$PYWB_PORT$PREFIX$(head -n1 "$URLS")" && break
    sleep 0.2
done

echo "== answers: capture counts of 500 URLs from both systems" >&2
"$LOADGEN" check --grpc "$GRPC" --http "127.0.0.1:$PYWB_PORT" --prefix "$PREFIX" \
    --urls "$URLS" --n 500 | tee "$OUT/check.json" >&2

RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
# run CMD...: one measurement; appends its JSON line + load average before it.
run() {
    local load
    load="$(cut -d' ' -f1-3 /proc/loadavg)"
    "$@" > "$OUT/line.json"
    python3 - "$OUT/line.json" "$load" >> "$RESULTS" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
r["load_before"] = sys.argv[2]
print(json.dumps(r))
PY
    python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print("   %-9s %-15s c=%-3d %8.0f req/s p50=%7.0fus p99=%7.0fus errors=%d empty=%d load=%s" % (r["target"], r["op"], r["concurrency"], r["throughput"], r["p50_us"], r["p99_us"], r["errors"], r["empty"], sys.argv[2]))' \
        "$OUT/line.json" "$load" >&2
}

for qa in $CLIENTS; do
    LG=("$LOADGEN" --threads "$LOADGEN_THREADS")
    [ "$qa" = quickack ] && LG+=(--quickack)
    for c in $CONCURRENCY; do
        echo "== client $qa, concurrency $c" >&2
        L=(--urls "$URLS" --concurrency "$c" --warmup "$WARMUP" --duration "$DURATION")
        run "${LG[@]}" grpc --addr "$GRPC" --rpc url --connections "$CONNECTIONS" "${L[@]}"
        run "${LG[@]}" grpc --addr "$GRPC" --rpc content --connections "$CONNECTIONS" "${L[@]}"
        run "${LG[@]}" http --addr "127.0.0.1:$PYWB_PORT" --prefix "$PREFIX" "${L[@]}"
    done
done

for rate in $RATES; do
    echo "== open loop, $rate requests/s offered" >&2
    L=(--urls "$URLS" --concurrency "$RATE_CONCURRENCY" --warmup "$WARMUP" --duration "$DURATION" --rate "$rate")
    run "$LOADGEN" --threads "$LOADGEN_THREADS" grpc --addr "$GRPC" --rpc url --connections "$CONNECTIONS" "${L[@]}"
    run "$LOADGEN" --threads "$LOADGEN_THREADS" grpc --addr "$GRPC" --rpc content --connections "$CONNECTIONS" "${L[@]}"
done

INDEX_BYTES=$(du -sb "$IDX" | cut -f1)
PYWB_VERSION="$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("pywb"), "gevent", version("gevent"))')"
python3 bench/query/summarize.py "$RESULTS" "$OUT/info.json" "$INDEX_BYTES" "$CORPUS/manifest.json" \
    "$OUT/check.json" "$PYWB_VERSION" "$PYWB_DIR/collections/$COLL/indexes/index.cdxj"
