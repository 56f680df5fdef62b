#!/usr/bin/env bash
# Issue 16's benchmark in one run: provindex text -> signature throughput on
# Chinese (normalization v2) next to English, and datatrove's MinHash
# signature stage configured for Chinese on the same zh-CN documents; MB/s of
# CPU time on one core for each, and the ratios. Results: docs/BENCHMARKS.md,
# section "Chinese sketching (issue 16)".
#
# Usage: bench/sketch/chinese_vs_datatrove.sh [ZH.jsonl EN.jsonl]
# Without arguments, makes both files from Debian's debian-handbook package
# (crates/sketch/bench/handbook_jsonl.py). Env: VENV (default
# ~/.cache/provindex-bench/dt-venv), REPEAT (provindex's --repeat, default 60),
# CARGO_TARGET_DIR (default ~/.cache/provindex-target-sketch-rel).
set -euo pipefail
cd "$(dirname "$0")/../.."
ZH=${1:-/tmp/hb-zh-CN.jsonl}
EN=${2:-/tmp/hb-en-US.jsonl}
VENV=${VENV:-$HOME/.cache/provindex-bench/dt-venv}
REPEAT=${REPEAT:-60}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/provindex-target-sketch-rel}

if [ ! -s "$ZH" ] || [ ! -s "$EN" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download debian-handbook && dpkg-deb -x debian-handbook_*.deb dh)
  python3 crates/sketch/bench/handbook_jsonl.py "$tmp/dh/usr/share/doc/debian-handbook/html/zh-CN" > "$ZH"
  python3 crates/sketch/bench/handbook_jsonl.py "$tmp/dh/usr/share/doc/debian-handbook/html/en-US" > "$EN"
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  # datatrove 0.10 also needs regex (not a declared dependency) and jieba
  # (its Chinese segmenter for cmn_Hani).
  "$VENV/bin/pip" install -q datatrove tokenizers orjson spacy "xxhash<4" regex jieba
fi

cargo build --release -p provindex-sketch --example sketch_bench
bench="$CARGO_TARGET_DIR/release/examples/sketch_bench"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== datatrove $("$VENV/bin/pip" show datatrove | sed -n 's/^Version: //p'), spaCy $("$VENV/bin/pip" show spacy | sed -n 's/^Version: //p'), jieba $("$VENV/bin/pip" show jieba | sed -n 's/^Version: //p')"
echo "== provindex zh-CN, --norm 2 --repeat $REPEAT"
"$bench" "$ZH" --norm 2 --repeat "$REPEAT" | tee /tmp/cvd-zh.txt
echo "== provindex en-US, --norm 1 --repeat $REPEAT"
"$bench" "$EN" --norm 1 --repeat "$REPEAT" | tee /tmp/cvd-en.txt
echo "== provindex en-US, --norm 2 --repeat $REPEAT"
"$bench" "$EN" --norm 2 --repeat "$REPEAT" | tee /tmp/cvd-en2.txt
echo "== datatrove on the same zh-CN documents (once)"
"$VENV/bin/python" bench/sketch/datatrove_zh.py "$ZH" "$(mktemp -d)" 2>/dev/null | tee /tmp/cvd-dt.txt
