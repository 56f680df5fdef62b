#!/usr/bin/env python3
"""MinHash throughput of datasketch and rensa on the same normalized documents.

Input: the JSONL written by `sketch_bench --write-normalized` — one
{"raw_bytes": N, "text": <provindex-normalized text>} per document — so every
tool sketches exactly the same word sequences. K=128, word 5-gram shingles
(documents with fewer than 5 words are one shingle; empty ones are skipped, as
in provindex), one thread. Times are CPU time of this thread
(time.thread_time_ns), summed per document; MB are 10^6 bytes of the original
raw text, as in the Rust figures.

Figures:
  python shingling   text.split(' ') + ' '.join of each 5-gram (a list of str)
  rensa update       RMinHash(num_perm=128, seed=42).update(shingles) + digest()
  datasketch update  MinHash(num_perm=128, permutations=<shared>).update_batch(
                     [s.encode() for s in shingles]) + digest(); the utf-8
                     encoding is timed with it; the permutations are computed
                     once and shared (cheaper than MinHash(num_perm=128) per doc)
"""

import argparse
import json
import sys
import time

from datasketch import MinHash
from rensa import RMinHash


def shingles_of(text, n=5):
    words = [w for w in text.split(" ") if w]
    if not words:
        return None
    if len(words) < n:
        return [" ".join(words)]
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("normalized_jsonl")
    ap.add_argument("--datasketch-mb", type=float, default=None,
                    help="run datasketch only on the first documents up to this many raw MB (default: all)")
    ap.add_argument("--skip-datasketch", action="store_true")
    args = ap.parse_args()

    docs = []
    with open(args.normalized_jsonl, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            docs.append((d["raw_bytes"], d["text"]))
    total_mb = sum(b for b, _ in docs) / 1e6
    print(f"docs={len(docs)} raw={total_mb:.1f} MB python={sys.version.split()[0]}", flush=True)

    clock = time.thread_time_ns
    t_shingle = t_rensa = 0
    n_docs = 0
    raw = 0
    for raw_bytes, text in docs:
        t0 = clock()
        sh = shingles_of(text)
        t1 = clock()
        t_shingle += t1 - t0
        if sh is None:
            continue
        t0 = clock()
        m = RMinHash(num_perm=128, seed=42)
        m.update(sh)
        m.digest()
        t_rensa += clock() - t0
        n_docs += 1
        raw += raw_bytes

    def report(name, ns, mb, ndocs):
        s = ns / 1e9
        print(f"{name:<36} {mb / s:>8.2f} MB/s {ndocs / s:>9.0f} docs/s  (cpu {s:.3f} s)", flush=True)

    report("python shingling", t_shingle, total_mb, len(docs))
    report("rensa update (excl. shingling)", t_rensa, raw / 1e6, n_docs)
    report("rensa update (incl. shingling)", t_rensa + t_shingle, raw / 1e6, n_docs)

    if args.skip_datasketch:
        return
    limit = args.datasketch_mb * 1e6 if args.datasketch_mb else float("inf")
    template = MinHash(num_perm=128)
    t_ds = 0
    ds_docs = ds_raw = 0
    for raw_bytes, text in docs:
        if ds_raw >= limit:
            break
        sh = shingles_of(text)
        if sh is None:
            continue
        t0 = clock()
        m = MinHash(num_perm=128, permutations=template.permutations, scheme="affine32")
        m.update_batch([s.encode("utf-8") for s in sh])
        m.digest()
        t_ds += clock() - t0
        ds_docs += 1
        ds_raw += raw_bytes
    report(f"datasketch update_batch ({ds_raw / 1e6:.1f} MB)", t_ds, ds_raw / 1e6, ds_docs)


if __name__ == "__main__":
    main()
