#!/usr/bin/env bash
# LookupUrl latency of two builds of provindex on the same corpus, in one run:
# each binary serves its own index of CORPUS (built here if missing), with a
# large and a tiny block cache, 1 and 32 requests in flight, two alternating
# rounds so drift shows as spread. Used for format 8 (4 KiB blocks) vs
# format 9 (32 KiB blocks) in docs/BENCHMARKS.md.
#
#   OLD=/path/old/provindex NEW=/path/new/provindex bench/scale/lookup_ab.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
OLD="${OLD:?OLD=path of the old provindex binary}"
NEW="${NEW:?NEW=path of the new provindex binary}"
LOADGEN="${LOADGEN:-/root/.cache/provindex-target-release/release/provindex-loadgen}"
CORPUS="${CORPUS:-bench/out/passages-100k}"
CACHES="${CACHES:-1024 1}"
OUT="bench/out/scale/lookup-ab"
URLS="bench/out/scale/lookup-ab-urls.txt"
mkdir -p "$OUT"
[ -s "$URLS" ] || python3 bench/query/prepare.py urls "$CORPUS" "$URLS" 20000

PID=""
ADDR=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null || true' EXIT
for v in old new; do
    bin="$OLD"; [ "$v" = new ] && bin="$NEW"
    if [ ! -f "$OUT/$v/.bench-done" ]; then
        rm -rf "$OUT/$v"
        /usr/bin/time -v "$bin" index "$CORPUS"/corpus-*.jsonl.gz --out "$OUT/$v" --built-at 0 \
            --progress off 2> "$OUT/$v-build.time" >&2
        touch "$OUT/$v/.bench-done"
    fi
done

serve() {
    "$1" serve --index "$2" --listen 127.0.0.1:0 --block-cache-mb "$3" > "$OUT/serve.out" 2> "$OUT/serve.err" &
    PID=$!
    for _ in $(seq 1 600); do
        grep -q '^listening on ' "$OUT/serve.out" 2>/dev/null && break
        sleep 0.1
    done
    ADDR="http://$(sed -n 's/^listening on //p' "$OUT/serve.out" | head -n1)"
}

for cache in $CACHES; do
    for round in 1 2; do
        for v in old new; do
            bin="$OLD"; [ "$v" = new ] && bin="$NEW"
            # In this shell, not a command substitution: PID must outlive it.
            serve "$bin" "$OUT/$v" "$cache"
            addr="$ADDR"
            for c in 1 32; do
                "$LOADGEN" grpc --addr "$addr" --rpc url --urls "$URLS" --concurrency "$c" \
                    --warmup 2 --duration 8 --label "$v cache=$cache c=$c round=$round" | tail -n1
            done
            kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
        done
    done
done
echo "build: $(du -sb "$OUT"/old | cut -f1) vs $(du -sb "$OUT"/new | cut -f1) bytes" >&2
