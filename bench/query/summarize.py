#!/usr/bin/env python3
"""Markdown summary of bench/query/run.sh results (stdout)."""

import json
import os
import sys
import subprocess

results, info_path, index_bytes, manifest_path, check_path, pywb_version, cdxj = sys.argv[1:8]
rows = [json.loads(l) for l in open(results) if l.strip()]
info = json.load(open(info_path))
manifest = json.load(open(manifest_path))
check = json.load(open(check_path))
index_bytes = int(index_bytes)


def find(d, *names):
    """First value of a key in names anywhere in a nested dict (info --json layout varies)."""
    if isinstance(d, dict):
        for n in names:
            if n in d and isinstance(d[n], (int, float)):
                return d[n]
        for v in d.values():
            r = find(v, *names)
            if r is not None:
                return r
    return None


captures = find(info, "captures") or manifest["records"]
contents = find(info, "contents")
p = manifest["parameters"]
cpu = subprocess.run("lscpu | grep 'Model name' | cut -d: -f2", shell=True, capture_output=True, text=True).stdout.strip()
mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30

print("### Query service: provindex vs pywb")
print()
print(f"- corpus: `build_corpus.py --unit passage --records {p['records']} --seed {p['seed']} "
      f"--mirror-hosts {p['mirror_hosts']}`: {manifest['records']:,} records "
      f"({', '.join(f'{k} {v:,}' for k, v in manifest['counts_by_kind'].items())}), "
      f"{manifest['total_text_bytes'] / 1e6:.0f} MB of text")
print(f"- index: {captures:,} captures" + (f", {contents:,} contents" if contents else "")
      + f", {index_bytes / 1e6:.1f} MB on disk = **{index_bytes / captures:.0f} bytes per capture**")
print(f"- pywb {pywb_version}, `wayback`, one CDXJ file of {os.path.getsize(cdxj) / 1e6:.1f} MB "
      f"({os.path.getsize(cdxj) / captures:.0f} bytes per capture)")
print(f"- answers (500 sampled URLs): provindex found {check['provindex_found']}, pywb found "
      f"{check['pywb_found']}, same capture count for {check['same_capture_count']}")
print(f"- machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB; server(s) and load generator share the cores; "
      f"load average at the end {open('/proc/loadavg').read().split()[0:3]}")
print()
print("| client | system | operation | concurrency | offered (req/s) | requests | throughput (req/s) | p50 (ms) | p99 (ms) | p99.9 (ms) | errors | empty | load avg before |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    offered = f"{r['rate']:,.0f}" if r.get("rate") else "closed loop"
    print(f"| {'quickack' if r.get('quickack') else 'default'} | {r['target']} | {r['op']} | {r['concurrency']} | {offered} | {r['requests']:,} | {r['throughput']:,.0f} | "
          f"{r['p50_us'] / 1e3:.3f} | {r['p99_us'] / 1e3:.3f} | {r['p999_us'] / 1e3:.3f} | {r['errors']} | "
          f"{r['empty']} | {r['load_before']} |")
print()
closed = [r for r in rows if not r.get("rate")]
for r in rows:
    if r.get("rate"):
        kept_up = r["throughput"] >= 0.98 * r["rate"]
        print(f"- open loop, {r['op']} offered {r['rate']:,.0f}/s (concurrency {r['concurrency']}): achieved "
              f"{r['throughput']:,.0f}/s ({'kept up' if kept_up else 'did NOT keep up'}), p99 {r['p99_us'] / 1e3:.2f} ms "
              f"({'met' if r['p99_us'] < 2000 else 'NOT met'} < 2 ms), sent late by p50 {r['send_lag_p50_us'] / 1e3:.2f} / "
              f"p99 {r['send_lag_p99_us'] / 1e3:.2f} ms")
by = {(bool(r.get("quickack")), r["target"], r["op"], r["concurrency"]): r for r in closed}
for qa, c in sorted({(bool(r.get("quickack")), r["concurrency"]) for r in closed}):
    u = by.get((qa, "provindex", "LookupUrl", c))
    k = by.get((qa, "provindex", "LookupContent", c))
    w = by.get((qa, "pywb", "cdx url lookup", c))
    parts = []
    for name, r in (("LookupUrl", u), ("LookupContent", k)):
        if r:
            ok_p99 = r["p99_us"] < 2000
            ok_tp = r["throughput"] >= 20000
            parts.append(f"{name}: p99 {r['p99_us'] / 1e3:.2f} ms ({'met' if ok_p99 else 'NOT met'} < 2 ms), "
                         f"{r['throughput']:,.0f}/s ({'met' if ok_tp else 'NOT met'} ≥ 20,000/s)")
    if u and w:
        ratio = u["throughput"] / w["throughput"]
        parts.append(f"LookupUrl / pywb throughput {ratio:.1f}× ({'met' if ratio >= 10 else 'NOT met'} ≥ 10×)")
    print(f"- {'quickack' if qa else 'default'} client, concurrency {c}: " + "; ".join(parts))
