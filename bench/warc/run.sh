#!/usr/bin/env bash
# WARC parsing and parse+HTML→text throughput (issue 3):
# provindex-corpus (Rust) vs FastWARC / Resiliparse (PyPI), one thread each,
# same files, same run, one tool at a time.
#
#   bench/warc/run.sh [CORPUS_DIR]
#
# CORPUS_DIR: a directory of .warc.gz files from the project's corpus builder.
# Default: bench/out/warc-500m, built if missing with
#   python3 bench/corpus/build_corpus.py --out bench/out/warc-500m --size-mb 500 --format warc --seed 1
#
# Modes (see crates/corpus/examples/warc_bench.rs and bench/warc/fastwarc_bench.py):
#   provindex parse      every record of every type framed, block read
#   fastwarc parse-all   every record of every type, parse_http=False, reader.read()
#   fastwarc parse-response  response records, HTTP head parsed, reader.read()
#   provindex extract    read_path → SourceDoc text (HTTP, decoding, HTML→text)
#   fastwarc+resiliparse extract  response records → bytes_to_str → extract_plain_text
#
# Every mode runs ROUNDS times (default 2), the tools interleaved, strictly one
# after another; the table takes each mode's run with the least CPU time
# (user + sys of the measuring process, measured around the read loop).
#
# Env: ROUNDS (default 2); CARGO_TARGET_DIR is honoured.
# Output: the markdown table on stdout; raw JSON lines in bench/out/warc-bench/.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CORPUS="${1:-bench/out/warc-500m}"
ROUNDS="${ROUNDS:-2}"
OUT="bench/out/warc-bench"
VENV="bench/out/venv-warc"
mkdir -p "$OUT"

if [ "$#" -eq 0 ] && [ ! -f "$CORPUS/manifest.json" ]; then
    echo "== building the benchmark corpus into $CORPUS" >&2
    python3 bench/corpus/build_corpus.py --out "$CORPUS" --size-mb 500 --format warc --seed 1 >&2
fi
shopt -s nullglob
FILES=("$CORPUS"/*.warc.gz "$CORPUS"/*.warc "$CORPUS"/*.warc.zst)
shopt -u nullglob
if [ "${#FILES[@]}" -eq 0 ]; then
    echo "no WARC files in $CORPUS" >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV" >&2
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c "import fastwarc, resiliparse" 2>/dev/null \
    || "$VENV/bin/pip" install -q fastwarc resiliparse >&2

echo "== building warc_bench (release)" >&2
cargo build -q --release -p provindex-corpus --example warc_bench >&2
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/warc_bench"

VERSIONS="$("$VENV/bin/python" - <<'PY'
import sys
from importlib.metadata import version
print(f"Python {sys.version.split()[0]}, FastWARC {version('fastwarc')}, Resiliparse {version('resiliparse')}")
PY
), $(rustc --version | cut -d' ' -f1-2)"

# Uncompressed size of the WARC stream: the same MB for every tool.
UBYTES=0
for f in "${FILES[@]}"; do
    case "$f" in
        *.gz) n=$(gzip -dc "$f" | wc -c) ;;
        *.zst) n=$(zstd -dc "$f" | wc -c) ;;
        *) n=$(stat -c %s "$f") ;;
    esac
    UBYTES=$((UBYTES + n))
done
GZBYTES=$(cat "${FILES[@]}" | wc -c)

RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
# run ROUND CMD...: runs one measurement, appends its JSON line (+ round, load
# average before the run, and /usr/bin/time's max RSS) to $RESULTS.
run() {
    local round="$1"
    shift
    local load
    load="$(cut -d' ' -f1 /proc/loadavg)"
    /usr/bin/time -f '%M' -o "$OUT/time.txt" "$@" > "$OUT/line.json" 2> "$OUT/stderr.txt" || {
        cat "$OUT/stderr.txt" >&2
        exit 1
    }
    python3 - "$OUT/line.json" "$round" "$load" "$(tail -n1 "$OUT/time.txt")" >> "$RESULTS" <<'PY'
import json, sys
line, rnd, load, rss = sys.argv[1:5]
r = json.loads(open(line).read().strip().splitlines()[-1])
r.update(round=int(rnd), load1=float(load), max_rss_kb=int(rss))
print(json.dumps(r))
PY
    python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print("   %-22s %-15s records=%-7d cpu=%.2fs wall=%.2fs load=%s" % (r["tool"], r["mode"], r.get("docs") or r["records"], r["cpu_s"], r["elapsed_s"], sys.argv[2]))' \
        "$OUT/line.json" "$load" >&2
}

FW=("$VENV/bin/python" bench/warc/fastwarc_bench.py)
for round in $(seq 1 "$ROUNDS"); do
    echo "== round $round/$ROUNDS" >&2
    run "$round" "$BIN" parse "${FILES[@]}"
    run "$round" "${FW[@]}" parse-all "${FILES[@]}"
    run "$round" "${FW[@]}" parse-response "${FILES[@]}"
    run "$round" "$BIN" extract "${FILES[@]}"
    run "$round" "${FW[@]}" extract "${FILES[@]}"
done

echo "### WARC parsing: provindex-corpus vs FastWARC / Resiliparse"
echo
echo "- corpus: \`$CORPUS\`, ${#FILES[@]} files, $(awk "BEGIN{printf \"%.1f\", $GZBYTES/1e6}") MB gzipped, $(awk "BEGIN{printf \"%.1f\", $UBYTES/1e6}") MB uncompressed WARC"
echo "- machine: $(nproc) cores, $(lscpu | grep 'Model name' | cut -d: -f2 | xargs), load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- versions: $VERSIONS"
echo "- one thread per tool; figures per CPU second (user + sys of the measuring process), best of $ROUNDS runs"
echo
python3 bench/warc/summarize.py "$RESULTS" "$UBYTES"
