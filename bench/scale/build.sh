#!/usr/bin/env bash
# Scale-out build (issue 17): a coordinator and W worker processes build the
# WARC corpus at 1× and 4× its size into a partitioned index; every process
# runs under /usr/bin/time -v, so the table gives the build's CPU seconds per
# GB of WARC (all processes together), the peak RSS of each worker, and, in
# the same run on the same files, `zcat` (GNU gzip) reading the WARC.gz to
# /dev/null. A one-process build of the same files checks the digest.
#
#   bench/scale/build.sh
#
# Env:
#   CORPUS      directory of *.warc.gz (default bench/out/pipeline-1g; build it
#               with python3 bench/corpus/build_corpus.py --out bench/out/pipeline-1g
#               --size-mb 1000 --format both --seed 0 --records-per-file 2500)
#   SIZES       numbers of WARC files, in order, for each size (default "3 12":
#               1× and 4×)
#   WORKERS     worker processes (default 2), each `--threads 1`
#   PARTITIONS  index partitions (default 4)
#   BIN         the provindex binary (default the release build in
#               /root/.cache/provindex-target-release)
# Output: a markdown table on stdout; raw figures as JSON lines in
# bench/out/scale/build.jsonl and every /usr/bin/time -v report next to it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CORPUS="${CORPUS:-bench/out/pipeline-1g}"
SIZES="${SIZES:-3 12}"
WORKERS="${WORKERS:-2}"
PARTITIONS="${PARTITIONS:-4}"
BIN="${BIN:-/root/.cache/provindex-target-release/release/provindex}"
OUT="bench/out/scale"
RESULTS="$OUT/build.jsonl"
mkdir -p "$OUT"
: > "$RESULTS"
[ -x "$BIN" ] || { echo "no provindex binary at $BIN (cargo build --release --workspace --bins)" >&2; exit 1; }
shopt -s nullglob
WARCS=("$CORPUS"/*.warc.gz)
shopt -u nullglob
[ "${#WARCS[@]}" -gt 0 ] || { echo "$CORPUS holds no .warc.gz" >&2; exit 1; }

PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

# timed NAME CMD...: CMD under /usr/bin/time -v, report in $OUT/NAME.time
timed() {
    local name="$1"
    shift
    /usr/bin/time -v -o "$OUT/$name.time" "$@"
}

# wait_line FILE PREFIX: the rest of FILE's first line starting with PREFIX
wait_line() {
    for _ in $(seq 1 600); do
        if grep -q "^$2" "$1" 2>/dev/null; then
            sed -n "s/^$2//p" "$1" | head -n1
            return
        fi
        sleep 0.1
    done
    echo "timed out waiting for '$2' in $1" >&2
    cat "${1%.out}.err" >&2 || true
    exit 1
}

for n in $SIZES; do
    [ "$n" -le "${#WARCS[@]}" ] || { echo "$CORPUS has ${#WARCS[@]} WARC files, SIZES asks $n" >&2; exit 1; }
    FILES=("${WARCS[@]:0:$n}")
    GZ_BYTES=$(cat "${FILES[@]}" | wc -c)
    RAW_BYTES=$(zcat "${FILES[@]}" | wc -c)
    echo "== $n files: $GZ_BYTES bytes gzipped, $RAW_BYTES bytes of WARC" >&2

    timed "zcat-$n" sh -c 'zcat "$@" > /dev/null' zcat "${FILES[@]}"

    IDX1="$OUT/one-$n"
    rm -rf "$IDX1" "$IDX1.staging"
    timed "one-$n" "$BIN" index "${FILES[@]}" --out "$IDX1" --built-at 0 --workers 1 \
        --progress off > "$OUT/one-$n.out" 2> "$OUT/one-$n.err"

    STATE="$OUT/state-$n"
    STAGING="$OUT/staging-$n"
    IDX="$OUT/cluster-$n"
    rm -rf "$STATE" "$STAGING" "$IDX"
    mkdir -p "$STATE"
    (exec /usr/bin/time -v -o "$OUT/coordinator-$n.time" "$BIN" coordinator --listen 127.0.0.1:0 \
        --state "$STATE" > "$OUT/coordinator-$n.out" 2> "$OUT/coordinator-$n.err") &
    PIDS+=($!)
    COORD_PID=$!
    ADDR="http://$(wait_line "$OUT/coordinator-$n.out" 'listening on ')"
    WORKER_PIDS=()
    for w in $(seq 1 "$WORKERS"); do
        mkdir -p "$OUT/scratch-$n-$w"
        (exec /usr/bin/time -v -o "$OUT/worker-$n-$w.time" "$BIN" worker --coordinator "$ADDR" \
            --name "w$w" --threads 1 --scratch "$OUT/scratch-$n-$w" \
            > "$OUT/worker-$n-$w.out" 2> "$OUT/worker-$n-$w.err") &
        PIDS+=($!)
        WORKER_PIDS+=($!)
    done
    timed "submit-$n" "$BIN" index "${FILES[@]}" --coordinator "$ADDR" --out "$IDX" \
        --staging "$STAGING" --index-partitions "$PARTITIONS" --built-at 0 --job-id "bench-$n" \
        --progress off --timeout 7200 > "$OUT/submit-$n.out" 2> "$OUT/submit-$n.err"
    # Each background PID is /usr/bin/time's; signal its child, so time
    # still writes its report.
    for p in "${WORKER_PIDS[@]}" "$COORD_PID"; do
        pkill -TERM -P "$p" 2>/dev/null || true
    done
    for p in "${WORKER_PIDS[@]}" "$COORD_PID"; do wait "$p" 2>/dev/null || true; done
    PIDS=()

    python3 - "$OUT" "$n" "$WORKERS" "$PARTITIONS" "$GZ_BYTES" "$RAW_BYTES" "$BIN" "$IDX1" "$IDX" >> "$RESULTS" <<'PY'
import json, os, re, subprocess, sys
out, n, workers, parts, gz, raw, bin_, idx1, idx = sys.argv[1:]
n, workers = int(n), int(workers)

def tv(name):
    text = open(f"{out}/{name}.time").read()
    num = lambda pat: float(re.search(pat, text).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text).group(1)
    secs = 0.0
    for part in wall.split(":"):
        secs = secs * 60 + float(part)
    return {"user": num(r"User time \(seconds\): (\S+)"), "sys": num(r"System time \(seconds\): (\S+)"),
            "wall": secs, "rss_kib": int(num(r"Maximum resident set size \(kbytes\): (\d+)"))}

def digest(path):
    if os.path.exists(f"{path}/publication.json"):
        return json.load(open(f"{path}/publication.json"))["index"]["digest"]
    info = json.loads(subprocess.run([bin_, "info", path, "--json"], check=True, capture_output=True, text=True).stdout)
    return info.get("digest") or info.get("index_digest")

row = {"files": n, "gz_bytes": int(gz), "warc_bytes": int(raw), "workers": workers, "partitions": int(parts),
       "zcat": tv(f"zcat-{n}"), "one_process": tv(f"one-{n}"), "coordinator": tv(f"coordinator-{n}"),
       "submit": tv(f"submit-{n}"), "workers_time": [tv(f"worker-{n}-{w}") for w in range(1, workers + 1)],
       "digest_one_process": digest(idx1), "digest_cluster": digest(idx)}
print(json.dumps(row))
PY
done

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu = lambda t: t["user"] + t["sys"]
print("| WARC files | WARC GB | zcat CPU s per GB | one process: CPU s per GB | × zcat | peak RSS MiB | cluster (%d workers × 1 thread, %d partitions): CPU s per GB, all processes | × zcat | wall s | peak RSS per worker MiB | coordinator RSS MiB | same digest |"
      % (rows[0]["workers"], rows[0]["partitions"]))
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|")
for r in rows:
    gb = r["warc_bytes"] / 1e9
    z = max(cpu(r["zcat"]), 0.01) / gb
    one = cpu(r["one_process"]) / gb
    cl = (sum(cpu(t) for t in r["workers_time"]) + cpu(r["coordinator"]) + cpu(r["submit"])) / gb
    print("| %d | %.3f | %.1f | %.1f | %.2f× | %d | %.1f | %.2f× | %.0f | %s | %d | %s |" % (
        r["files"], gb, z, one, z / one, r["one_process"]["rss_kib"] // 1024, cl, z / cl,
        r["submit"]["wall"], " / ".join(str(t["rss_kib"] // 1024) for t in r["workers_time"]),
        r["coordinator"]["rss_kib"] // 1024,
        "yes" if r["digest_one_process"] == r["digest_cluster"] else "NO"))
PY
