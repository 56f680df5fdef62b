#!/usr/bin/env bash
# MinHash sketching throughput: provindex-sketch vs rensa vs datasketch.
#
#   bench/sketch/run.sh [CORPUS]
#
# CORPUS: a JSONL(.gz) file or a directory of them, one {"text": ...} per line.
# Default: bench/out/text-100m, built with the project's corpus builder
# (python3 bench/corpus/build_corpus.py --out bench/out/text-100m --size-mb 100
# --format jsonl) if it is not there yet.
#
# All tools sketch the same documents: the Rust bench normalizes them
# (provindex normalization v1) and writes the normalized texts, which the
# Python tools then shingle the same way (word 5-grams). K=128, one thread.
# Times are CPU time of the measuring thread (the machine may be shared).
#
# Env: DATASKETCH_MB (default: all) limits datasketch to the first N raw MB;
#      CARGO_TARGET_DIR is honoured.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
OUT="bench/out/sketch"
VENV="bench/out/venv"
CORPUS="${1:-bench/out/text-100m}"
mkdir -p "$OUT"

if [ "$#" -eq 0 ] && [ ! -f "$CORPUS/manifest.json" ]; then
    echo "== building the benchmark corpus into $CORPUS"
    python3 bench/corpus/build_corpus.py --out "$CORPUS" --size-mb 100 --format jsonl
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -c "import datasketch, rensa" 2>/dev/null || "$VENV/bin/pip" install -q datasketch rensa
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version
print("== python packages: datasketch", version("datasketch"), "rensa", version("rensa"), "numpy", version("numpy"))
PY

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== provindex-sketch (Rust, release, single thread)"
cargo build -q --release -p provindex-sketch --example sketch_bench
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/sketch_bench"
INPUTS=("$CORPUS")
if [ -d "$CORPUS" ] && compgen -G "$CORPUS/corpus-*.jsonl*" > /dev/null; then
    INPUTS=("$CORPUS"/corpus-*.jsonl*)   # skip the builder's truth.jsonl
fi
"$BIN" "${INPUTS[@]}" --rounds 3 --write-normalized "$OUT/normalized.jsonl"

echo "== rensa and datasketch (Python, single thread)"
DS_ARGS=()
if [ -n "${DATASKETCH_MB:-}" ]; then
    DS_ARGS=(--datasketch-mb "$DATASKETCH_MB")
fi
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 RAYON_NUM_THREADS=1 \
    "$VENV/bin/python" bench/sketch/bench_py.py "$OUT/normalized.jsonl" "${DS_ARGS[@]}"
