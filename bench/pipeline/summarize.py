"""Markdown table for bench/pipeline/run.sh from its results.jsonl.

Per CPU-second = per (user + sys) second of the whole process tree, the
fair per-core figure on a shared machine. Per core by wall = figure / wall
seconds / workers. MB = 10^6 bytes.
"""

import json
import sys


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    print(
        "| tool | input | workers | docs | wall s | CPU s (user+sys) | WARC MB/s per CPU-s | text MB/s per CPU-s "
        "| docs/s per CPU-s | text MB/s per core (wall) | docs/s per core (wall) | peak RSS MiB |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        cpu, wall, w = r["cpu_s"], r["wall_s"], r["workers"]
        warc = f"{r['warc_bytes'] / 1e6 / cpu:.1f}" if r["warc_bytes"] else "–"
        inp = {
            "warc": "WARC, all files (parse + HTML→text + index)",
            "warcsub": "WARC, subset (parse + HTML→text + index)",
            "jsonl": "JSONL text, subset",
        }[r["input"]]
        print(
            f"| {r['tool']} | {inp} | {w} | {r['docs']:,} | {wall:.1f} | {cpu:.1f} | {warc} "
            f"| {r['text_bytes'] / 1e6 / cpu:.2f} | {r['docs'] / cpu:,.0f} "
            f"| {r['text_bytes'] / 1e6 / wall / w:.2f} | {r['docs'] / wall / w:,.0f} | {r['max_rss_kb'] / 1024:,.0f} |"
        )
    print()
    # Ratios per CPU-second, same worker count.
    by = {(r["tool"], r["input"], r["workers"]): r for r in rows}
    for (tool, inp, w), r in sorted(by.items()):
        if tool != "datatrove":
            continue
        dt_docs = r["docs"] / r["cpu_s"]
        dt_mb = r["text_bytes"] / 1e6 / r["cpu_s"]
        for pin in ("warc", "warcsub", "jsonl"):
            p = by.get(("provindex", pin, w))
            if not p:
                continue
            pd = p["docs"] / p["cpu_s"]
            pm = p["text_bytes"] / 1e6 / p["cpu_s"]
            goal = "met" if min(pd / dt_docs, pm / dt_mb) >= 20 else "NOT met"
            print(
                f"- workers {w}: provindex {pin} / datatrove per CPU-second: "
                f"docs {pd / dt_docs:.1f}×, text MB {pm / dt_mb:.1f}× (goal ≥ 20×: {goal})"
            )
    print()
    for r in rows:
        if r["tool"] == "datatrove":
            st = ", ".join(f"{k} {v['cpu_s']:.1f}" for k, v in r["stages"].items())
            print(
                f"- datatrove w{r['workers']} ({r['config']}, tokenizer {r['tokenizer']}): CPU s by stage: {st}; "
                f"{r['docs_seen']:,} docs read, {r['docs_removed']:,} removed as duplicates"
            )
        else:
            removable = None
            if r.get("contents") is not None and r.get("near_clusters") is not None:
                removable = (r["captures"] - r["contents"]) + (r["near_cluster_contents"] - r["near_clusters"])
            print(
                f"- provindex {r['input']} w{r['workers']}: captures {r.get('captures')}, contents {r.get('contents')}, "
                f"near-dup clusters {r.get('near_clusters')} ({r.get('near_cluster_contents')} contents) "
                f"→ {removable} duplicate documents beyond one per cluster; read errors {r.get('read_errors')}; "
                f"digest {str(r.get('digest'))[:16]}…"
            )


if __name__ == "__main__":
    main()
