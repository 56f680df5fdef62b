#!/usr/bin/env python3
"""Single-thread WARC throughput of FastWARC (+ Resiliparse), for issue 3.

Usage: fastwarc_bench.py MODE PATH...   (run by bench/warc/run.sh)

PATH: WARC files (.warc, .warc.gz, .warc.zst) or directories of them, read in
sorted order, one after another, in this one thread. Each file is given to
ArchiveIterator by path, so FastWARC opens and reads it natively (no Python
file object in the loop).

MODE:
  parse-all       ArchiveIterator(path, record_types=WarcRecordType.any_type,
                  parse_http=False): every record of every type, its block read
                  with record.reader.read(). The mode comparable to
                  `warc_bench parse` (which frames every record, no HTTP parsing).
  parse-response  ArchiveIterator(path, record_types=WarcRecordType.response)
                  (default parse_http=True): response records only, HTTP head
                  parsed, the payload read with record.reader.read(). FastWARC's
                  usual way of reading a crawl.
  extract         as parse-response, with auto_decode='all' (transfer and
                  content encodings, as provindex does); the payload is decoded
                  to str (charset from the HTTP Content-Type, else
                  resiliparse.parse.encoding.detect_encoding, then
                  bytes_to_str) and passed to
                  resiliparse.extract.html2text.extract_plain_text(html) with
                  its defaults. Non-HTML payloads are not extracted (none in
                  the benchmark corpus).

Prints one JSON line with the same fields as `warc_bench`: records (and by
type), input_bytes (files as stored), block_bytes (sum of record.content_length:
the WARC Content-Length for parse-all, but the HTTP *payload* length once
FastWARC 2 has parsed the HTTP head, i.e. for parse-response and extract),
payload_bytes (bytes returned by reader.read()), text_bytes
(extract), elapsed_s (wall), user_s/sys_s/cpu_s (resource.getrusage of this
process, RUSAGE_SELF, measured around the loop only), and records/s and MB/s
per CPU second and per wall second. MB = 10^6 bytes.
"""

import json
import os
import resource
import sys
import time

from fastwarc.warc import ArchiveIterator, WarcRecordType

MODES = ("parse-all", "parse-response", "extract")


def collect_files(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files.extend(
                sorted(
                    os.path.join(p, n)
                    for n in os.listdir(p)
                    if n.endswith((".warc", ".warc.gz", ".warc.zst"))
                )
            )
        else:
            files.append(p)
    return files


def cpu_times():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


TYPE_NAMES = {
    int(getattr(WarcRecordType, n)): n
    for n in ("warcinfo", "response", "resource", "request", "revisit", "metadata",
              "conversion", "continuation", "unknown")
    if hasattr(WarcRecordType, n)
}


def type_name(rt):
    return TYPE_NAMES.get(rt, str(rt))


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in MODES:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(MODES)} PATH...")
    mode = sys.argv[1]
    files = collect_files(sys.argv[2:])
    if not files:
        sys.exit("no WARC files")
    input_bytes = sum(os.path.getsize(f) for f in files)

    if mode == "extract":
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    by_type = {}
    records = 0
    block_bytes = 0
    payload_bytes = 0
    text_bytes = 0
    docs_with_text = 0

    u0, s0 = cpu_times()
    t0 = time.perf_counter()
    for f in files:
        if mode == "parse-all":
            it = ArchiveIterator(f, record_types=WarcRecordType.any_type, parse_http=False)
        elif mode == "parse-response":
            it = ArchiveIterator(f, record_types=WarcRecordType.response)
        else:
            it = ArchiveIterator(f, record_types=WarcRecordType.response, auto_decode="all")
        for rec in it:
            records += 1
            rt = int(rec.record_type)
            by_type[rt] = by_type.get(rt, 0) + 1
            block_bytes += rec.content_length
            body = rec.reader.read()
            payload_bytes += len(body)
            if mode == "extract":
                ct = rec.http_content_type or ""
                if ct and "html" not in ct:
                    continue
                cs = rec.http_charset or detect_encoding(body)
                html = bytes_to_str(body, cs)
                text = extract_plain_text(html)
                docs_with_text += 1
                text_bytes += len(text.encode("utf-8"))
    elapsed = time.perf_counter() - t0
    u1, s1 = cpu_times()
    user, sys_ = u1 - u0, s1 - s0
    cpu = user + sys_

    out = {
        "tool": "fastwarc" if mode != "extract" else "fastwarc+resiliparse",
        "mode": mode,
        "record_types": "all" if mode == "parse-all" else "response",
        "files": len(files),
        "records": records,
        "records_by_type": {type_name(k): v for k, v in sorted(by_type.items())},
        "docs_with_text": docs_with_text,
        "input_bytes": input_bytes,
        "block_bytes": block_bytes,
        "payload_bytes": payload_bytes,
        "text_bytes": text_bytes,
        "elapsed_s": elapsed,
        "user_s": user,
        "sys_s": sys_,
        "cpu_s": cpu,
        "records_per_cpu_s": records / cpu,
        "input_mb_per_cpu_s": input_bytes / 1e6 / cpu,
        "block_mb_per_cpu_s": block_bytes / 1e6 / cpu,
        "records_per_s": records / elapsed,
        "input_mb_per_s": input_bytes / 1e6 / elapsed,
        "block_mb_per_s": block_bytes / 1e6 / elapsed,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
