#!/usr/bin/env python3
"""Markdown table from bench/warc/run.sh's results (one JSON object per line).

Usage: summarize.py RESULTS.jsonl UNCOMPRESSED_BYTES

For each (tool, mode) the run with the least CPU time is taken. MB/s are
10^6 bytes per CPU second of the measuring process (user + sys) for the same
input: `gz` = the .warc.gz files as stored, `WARC` = their decompressed size
(UNCOMPRESSED_BYTES, the same figure for every tool). Wall-clock MB/s
(uncompressed) is shown too; on a loaded machine it mostly measures the load.
"""

import json
import sys

ORDER = [
    ("provindex-corpus", "parse", "all types; WARC framing + headers + block, no HTTP"),
    ("fastwarc", "parse-all", "all types, `parse_http=False`, `reader.read()`"),
    ("fastwarc", "parse-response", "response only, HTTP head parsed, `reader.read()`"),
    ("provindex-corpus", "extract", "response (+warcinfo framed, skipped) → SourceDoc text"),
    ("fastwarc+resiliparse", "extract", "response, HTTP parsed, decode → `extract_plain_text`"),
]


def main():
    path, ubytes = sys.argv[1], int(sys.argv[2])
    runs = [json.loads(l) for l in open(path) if l.strip().startswith("{")]
    best, nruns = {}, {}
    for r in runs:
        k = (r["tool"], r["mode"])
        nruns[k] = nruns.get(k, 0) + 1
        if k not in best or r["cpu_s"] < best[k]["cpu_s"]:
            best[k] = r
    print("| tool | mode | records read | records | CPU s | wall s | load | records/s (CPU) | MB/s gz (CPU) | MB/s WARC (CPU) | MB/s WARC (wall) | max RSS MB |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tool, mode, what in ORDER:
        r = best.get((tool, mode))
        if r is None:
            continue
        counted = r["docs"] if (tool, mode) == ("provindex-corpus", "extract") else r["records"]
        cpu = r["cpu_s"]
        print(
            f"| {tool} | {mode} | {what} | {counted:,} | {cpu:.2f} | {r['elapsed_s']:.2f} | "
            f"{r.get('load1', '?')} | {counted / cpu:,.0f} | {r['input_bytes'] / 1e6 / cpu:.1f} | "
            f"{ubytes / 1e6 / cpu:.0f} | {ubytes / 1e6 / r['elapsed_s']:.0f} | "
            f"{r.get('max_rss_kb', 0) / 1024:.0f} |"
        )
    print()
    print(f"Runs per row (best CPU time taken): " + ", ".join(f"{t} {m}: {n}" for (t, m), n in sorted(nruns.items())))
    g = lambda t, m: best.get((t, m))
    ratios = [
        ("parse, all types (provindex parse vs FastWARC parse-all)", g("provindex-corpus", "parse"), g("fastwarc", "parse-all")),
        ("parse vs FastWARC parse-response", g("provindex-corpus", "parse"), g("fastwarc", "parse-response")),
        ("extract (provindex extract vs FastWARC+Resiliparse extract)", g("provindex-corpus", "extract"), g("fastwarc+resiliparse", "extract")),
    ]
    print()
    for name, a, b in ratios:
        if a and b:
            print(f"- {name}: provindex / peer throughput per CPU second = **{b['cpu_s'] / a['cpu_s']:.2f}×**")
    # Record counts cross-check.
    print()
    print("Record counts:")
    ok = True
    rp, fa, fr = g("provindex-corpus", "parse"), g("fastwarc", "parse-all"), g("fastwarc", "parse-response")
    re_, fe = g("provindex-corpus", "extract"), g("fastwarc+resiliparse", "extract")
    if rp and fa:
        same = rp["records_by_type"] == fa["records_by_type"]
        ok &= same
        print(f"- all records by type: provindex {rp['records_by_type']} / FastWARC {fa['records_by_type']} → {'agree' if same else 'DIFFER'}")
        same = rp["block_bytes"] == fa["block_bytes"]
        ok &= same
        print(f"- sum of WARC Content-Length: provindex {rp['block_bytes']:,} / FastWARC {fa['block_bytes']:,} → {'agree' if same else 'DIFFER'}")
    if rp and fr:
        a, b = rp["records_by_type"].get("response", 0), fr["records"]
        ok &= a == b
        print(f"- response records: provindex {a:,} / FastWARC {b:,} → {'agree' if a == b else 'DIFFER'}")
    if re_ and fe:
        a, b = re_["docs_with_text"], fe["docs_with_text"]
        ok &= a == b
        print(f"- documents with extracted text: provindex {a:,} / Resiliparse {b:,} → {'agree' if a == b else 'DIFFER'}")
        print(f"- extracted text (UTF-8): provindex {re_['text_bytes'] / 1e6:.1f} MB / Resiliparse {fe['text_bytes'] / 1e6:.1f} MB (different extractors; for scale only)")
    errs = sum(r.get("errors", 0) for r in best.values())
    print(f"- reader errors: {errs}")
    print()
    print("COUNTS " + ("OK" if ok and errs == 0 else "MISMATCH"))


if __name__ == "__main__":
    main()
