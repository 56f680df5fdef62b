#!/usr/bin/env bash
# End-to-end indexing throughput (issue 6): `provindex index` on >= 1 GB of
# WARC with 1 and 2 workers, and in the same run datatrove's MinHash
# deduplication pipeline (PyPI) on the same documents' extracted text, plus
# `provindex index` on that same JSONL text. Every run is timed with
# /usr/bin/time -v (wall, user + sys CPU of the process and its children,
# maximum RSS). See docs/BENCHMARKS.md, "Distributed build, end to end".
#
#   bench/pipeline/run.sh
#
# Env:
#   CORPUS     corpus directory (default bench/out/pipeline-1g, built if missing with
#              python3 bench/corpus/build_corpus.py --out bench/out/pipeline-1g \
#                  --size-mb 1000 --format both --seed 0 --records-per-file 2500)
#   DT_FILES   how many of the corpus's JSONL files (in order) datatrove and the
#              provindex-on-JSONL rows read: a number or "all" (default 4, about
#              10,000 documents, 115 MB of text; datatrove needs about 1.75
#              CPU-seconds per MB of text, so all 13 files (369 MB) would add
#              about 11 CPU-minutes per datatrove run)
#   WORKERS    worker counts to run (default "1 2")
#   DT_TOKENIZER  default (spaCy blank "en", datatrove's English default) | whitespace
#   CARGO_TARGET_DIR  (default /root/.cache/provindex-target-release)
#
# Output: the markdown table on stdout; raw JSON lines (one per run) in
# bench/out/pipeline-bench/results.jsonl, /usr/bin/time -v and stdout of every
# run next to it.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CORPUS="${CORPUS:-bench/out/pipeline-1g}"
DT_FILES="${DT_FILES:-4}"
WORKERS="${WORKERS:-1 2}"
DT_TOKENIZER="${DT_TOKENIZER:-default}"
OUT="bench/out/pipeline-bench"
VENV="bench/out/venv-datatrove"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/provindex-target-release}"
BIN="$CARGO_TARGET_DIR/release/provindex"
mkdir -p "$OUT"

# 1. corpus: the same records as WARC and as JSONL ({"id","url","text"}),
# file N of each holding the same records.
if [ ! -f "$CORPUS/manifest.json" ]; then
    echo "== building the benchmark corpus into $CORPUS" >&2
    python3 bench/corpus/build_corpus.py --out "$CORPUS" --size-mb 1000 --format both \
        --seed 0 --records-per-file 2500 >&2
fi
shopt -s nullglob
WARCS=("$CORPUS"/*.warc.gz)
JSONLS=("$CORPUS"/*.jsonl.gz)
shopt -u nullglob
if [ "${#WARCS[@]}" -eq 0 ] || [ "${#WARCS[@]}" -ne "${#JSONLS[@]}" ]; then
    echo "$CORPUS needs as many .warc.gz as .jsonl.gz files (build it with --format both)" >&2
    exit 1
fi
if [ "$DT_FILES" = all ]; then
    SUB=("${JSONLS[@]}")
    SUBW=("${WARCS[@]}")
else
    SUB=("${JSONLS[@]:0:$DT_FILES}")
    SUBW=("${WARCS[@]:0:$DT_FILES}")
fi

# 2. datatrove venv (pip is the only download; nothing is fetched at run time:
# the English word tokenizer is spaCy's blank("en"), which has no model files).
if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV" >&2
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c "import datatrove, spacy, orjson, xxhash" 2>/dev/null \
    || "$VENV/bin/pip" install -q 'datatrove[processing]==0.10.1' 'spacy==3.8.18' 'orjson==3.13.0' >&2

# 3. provindex, release. Always --workspace (the target dir has RocksDB built
# for exactly this feature set).
echo "== building provindex (release) in $CARGO_TARGET_DIR" >&2
cargo build -q --release --locked --workspace --bins >&2
SRC="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates services Cargo.toml Cargo.lock 2>/dev/null || echo ' + uncommitted changes in the work tree')"

# Sizes: uncompressed WARC bytes of the whole corpus; text bytes (UTF-8, the
# JSONL "text" field = what provindex extracts from the HTML) of the whole
# corpus and of the JSONL subset.
echo "== measuring the corpus" >&2
read -r UBYTES GZBYTES SUBUBYTES <<<"$(python3 - "${#SUBW[@]}" "${SUBW[@]}" "${WARCS[@]}" <<'PY'
import gzip, os, sys
k = int(sys.argv[1])
sub, files = set(sys.argv[2:2 + k]), sys.argv[2 + k:]
u = g = su = 0
for f in files:
    g += os.path.getsize(f)
    n = 0
    with gzip.open(f, "rb") as fh:
        while b := fh.read(1 << 20):
            n += len(b)
    u += n
    if f in sub:
        su += n
print(u, g, su)
PY
)"
read -r DOCS TBYTES SUBDOCS SUBTBYTES <<<"$(python3 - "${#SUB[@]}" "${SUB[@]}" "${JSONLS[@]}" <<'PY'
import gzip, json, sys
k = int(sys.argv[1])
sub, files = set(sys.argv[2:2 + k]), sys.argv[2 + k:]
d = t = sd = st = 0
for f in files:
    for line in gzip.open(f, "rt", encoding="utf-8"):
        n = len(json.loads(line)["text"].encode("utf-8"))
        d += 1; t += n
        if f in sub:
            sd += 1; st += n
print(d, t, sd, st)
PY
)"

RESULTS="$OUT/results.jsonl"
: > "$RESULTS"
# run LABEL INPUT WORKERS DOCS TEXT_BYTES WARC_BYTES CMD...: one measurement
# under /usr/bin/time -v; appends a JSON line to $RESULTS.
run() {
    local label="$1" input="$2" workers="$3" docs="$4" tbytes="$5" wbytes="$6"
    shift 6
    local tag="${label// /_}-${input}-w${workers}" load
    load="$(cut -d' ' -f1 /proc/loadavg)"
    echo "== $label, $input, --workers $workers (load $load)" >&2
    /usr/bin/time -v -o "$OUT/$tag.time" "$@" > "$OUT/$tag.out" 2> "$OUT/$tag.err" || {
        echo "FAILED: $*" >&2
        tail -n 30 "$OUT/$tag.err" >&2
        exit 1
    }
    python3 - "$label" "$input" "$workers" "$docs" "$tbytes" "$wbytes" "$load" \
        "$OUT/$tag.time" "$OUT/$tag.out" >> "$RESULTS" <<'PY'
import json, re, sys
label, inp, workers, docs, tb, wb, load, timef, outf = sys.argv[1:10]
t = {}
for line in open(timef):
    k, _, v = line.strip().rpartition(": ")
    t[k] = v
def wall(s):
    parts = [float(x) for x in s.split(":")]
    secs = 0.0
    for p in parts:
        secs = secs * 60 + p
    return secs
r = dict(
    tool=label, input=inp, workers=int(workers), docs=int(docs), text_bytes=int(tb),
    warc_bytes=int(wb), load1=float(load),
    wall_s=wall(t["Elapsed (wall clock) time (h:mm:ss or m:ss)"]),
    user_s=float(t["User time (seconds)"]), sys_s=float(t["System time (seconds)"]),
    max_rss_kb=int(t["Maximum resident set size (kbytes)"]),
)
r["cpu_s"] = round(r["user_s"] + r["sys_s"], 2)
out = open(outf).read()
if label == "datatrove":
    d = json.loads(out.strip().splitlines()[-1])
    r.update(stages=d["stages"], docs_seen=d["docs"], docs_removed=d["docs_removed"],
             tokenizer=d["tokenizer"], config=d["config"])
else:
    for key in ("captures", "contents", "read errors"):
        m = re.search(rf"^{key}: (\d+)", out, re.M)
        r[key.replace(" ", "_")] = int(m.group(1)) if m else None
    m = re.search(r"^near-duplicate clusters: (\d+) \((\d+) contents\)", out, re.M)
    if m:
        r["near_clusters"], r["near_cluster_contents"] = int(m.group(1)), int(m.group(2))
    m = re.search(r"^digest: (\w+)", out, re.M)
    r["digest"] = m.group(1) if m else None
print(json.dumps(r))
PY
    python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[-1]); print("   wall=%.1fs cpu=%.1fs maxrss=%.0fMiB" % (r["wall_s"], r["cpu_s"], r["max_rss_kb"]/1024))' "$RESULTS" >&2
}

IDX="$OUT/idx"
for w in $WORKERS; do
    rm -rf "$IDX"
    run provindex warc "$w" "$DOCS" "$TBYTES" "$UBYTES" \
        "$BIN" index "${WARCS[@]}" --out "$IDX" --built-at 0 --workers "$w"
    if [ "${#SUBW[@]}" -ne "${#WARCS[@]}" ]; then
        rm -rf "$IDX"
        run provindex warcsub "$w" "$SUBDOCS" "$SUBTBYTES" "$SUBUBYTES" \
            "$BIN" index "${SUBW[@]}" --out "$IDX" --built-at 0 --workers "$w"
    fi
    rm -rf "$IDX"
    run provindex jsonl "$w" "$SUBDOCS" "$SUBTBYTES" 0 \
        "$BIN" index "${SUB[@]}" --out "$IDX" --built-at 0 --workers "$w"
    rm -rf "$IDX"
    run datatrove jsonl "$w" "$SUBDOCS" "$SUBTBYTES" 0 \
        "$VENV/bin/python" bench/pipeline/datatrove_minhash.py --workers "$w" \
        --tokenizer "$DT_TOKENIZER" --out "$OUT/datatrove" "${SUB[@]}"
    rm -rf "$OUT/datatrove"
done
rm -rf "$IDX"

VERSIONS="$("$VENV/bin/python" - <<'PY'
import sys
from importlib.metadata import version
print(f"Python {sys.version.split()[0]}, datatrove {version('datatrove')}, spaCy {version('spacy')}, numpy {version('numpy')}, xxhash {version('xxhash')}")
PY
), $(rustc --version | cut -d' ' -f1-2), provindex $SRC"

echo "### provindex index vs datatrove MinHash dedup"
echo
echo "- corpus: \`$CORPUS\`, ${#WARCS[@]} WARC files: $DOCS documents, $(awk "BEGIN{printf \"%.1f\", $UBYTES/1e6}") MB uncompressed WARC ($(awk "BEGIN{printf \"%.1f\", $GZBYTES/1e6}") MB gzipped), $(awk "BEGIN{printf \"%.1f\", $TBYTES/1e6}") MB of extracted text"
echo "- subset (datatrove, provindex JSONL, provindex WARC subset rows): the first ${#SUB[@]} of ${#JSONLS[@]} files: $SUBDOCS documents, $(awk "BEGIN{printf \"%.1f\", $SUBTBYTES/1e6}") MB of text, $(awk "BEGIN{printf \"%.1f\", $SUBUBYTES/1e6}") MB uncompressed WARC"
echo "- machine: $(nproc) cores, $(lscpu | grep 'Model name' | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- versions: $VERSIONS"
echo
python3 bench/pipeline/summarize.py "$RESULTS"
