#!/usr/bin/env python3
"""Verify a corpus made by build_corpus.py (Python 3.11 standard library only).

Checks: file sizes and sha256 against manifest.json; every WARC gzip member
decodes to exactly one WARC record with exact Content-Length, valid block and
payload digests and HTTP Content-Length; response record counts per file and
by kind match the manifest and truth.jsonl (ids, URLs, record ids, offsets);
JSONL lines decode and match truth; the text extracted from each WARC payload
equals the JSONL text; exact copies have byte-identical payloads, unique
payloads are all distinct. Also prints word 5-shingle Jaccard similarity of
near-duplicates to their sources by edit fraction (sampled).

If warcio is importable, every WARC file is also read with warcio's
ArchiveIterator (check_digests=True where supported).

Usage: verify_corpus.py DIR [--jaccard-sample N]
"""

from __future__ import annotations

import argparse
import base64
import collections
import gzip
import hashlib
import io
import json
import random
import re
import statistics
import sys
import zlib
from pathlib import Path

sys.dont_write_bytecode = True  # keep bench/corpus free of __pycache__
sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_corpus import extract_text  # noqa: E402


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def gzip_members(data: bytes):
    """Yields (offset, length, decompressed) for each gzip member."""
    mv = memoryview(data)
    pos = 0
    while pos < len(data):
        d = zlib.decompressobj(wbits=31)
        out = []
        p = pos
        while not d.eof:
            chunk = mv[p:p + 65536]
            check(len(chunk) > 0, f"truncated gzip member at offset {pos}")
            out.append(d.decompress(chunk))
            p += len(chunk)
        length = p - pos - len(d.unused_data)
        yield pos, length, b"".join(out)
        pos += length


def plain_records(data: bytes):
    """Yields (offset, length, record bytes) for an uncompressed WARC file."""
    pos = 0
    while pos < len(data):
        head_end = data.index(b"\r\n\r\n", pos)
        m = re.search(rb"\r\nContent-Length: (\d+)\r\n", data[pos:head_end + 2])
        check(m is not None, f"no Content-Length at offset {pos}")
        end = head_end + 4 + int(m.group(1)) + 4
        check(end <= len(data), f"truncated record at offset {pos}")
        yield pos, end - pos, data[pos:end]
        pos = end


def parse_warc_record(rec: bytes):
    head_end = rec.index(b"\r\n\r\n")
    lines = rec[:head_end].decode("utf-8").split("\r\n")
    check(lines[0] == "WARC/1.1", f"bad version line {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        k, v = line.split(": ", 1)
        headers[k] = v
    n = int(headers["Content-Length"])
    block = rec[head_end + 4: head_end + 4 + n]
    check(len(block) == n, "block shorter than Content-Length")
    check(rec[head_end + 4 + n:] == b"\r\n\r\n", "record does not end with CRLFCRLF after the block")
    return headers, block


def shingles(text: str, n: int = 5) -> set:
    w = text.lower().split()
    if len(w) < n:
        return {" ".join(w)}
    return {" ".join(w[i:i + n]) for i in range(len(w) - n + 1)}


def jaccard(a: str, b: str) -> float:
    x, y = shingles(a), shingles(b)
    return len(x & y) / max(1, len(x | y))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--jaccard-sample", type=int, default=300)
    ap.add_argument("--no-text-check", action="store_true", help="skip re-extracting text from every WARC payload")
    args = ap.parse_args()
    d = Path(args.dir)
    manifest = json.loads((d / "manifest.json").read_text())
    truth = [json.loads(line) for line in open(d / "truth.jsonl", encoding="utf-8")]
    check(len(truth) == manifest["records"], "truth.jsonl line count != manifest records")
    by_id = {t["id"]: t for t in truth}
    check(len(by_id) == len(truth), "duplicate ids in truth")
    check(len({t["url"] for t in truth}) == len(truth), "duplicate URLs")
    kinds = collections.Counter(t["kind"] for t in truth)
    check(dict(kinds) == {k: v for k, v in manifest["counts_by_kind"].items() if v}, "counts by kind differ")
    for t in truth:
        if t["kind"] != "unique":
            src = by_id[t["source_id"]]
            check(src["kind"] == "unique", "source is not a unique record")
            check(src["id"] < t["id"], "source does not precede its copy")
    th = hashlib.sha256((d / "truth.jsonl").read_bytes()).hexdigest()
    check(th == manifest["truth"]["sha256"], "truth sha256 mismatch")

    payloads: dict[str, bytes] = {}
    texts: dict[str, str] = {}
    warc_ids = {t.get("warc_record_id"): t for t in truth}
    n_warc = n_jsonl = 0
    for f in manifest["files"]:
        p = d / f["path"]
        data = p.read_bytes()
        check(len(data) == f["bytes"], f"{p.name}: size mismatch")
        check(hashlib.sha256(data).hexdigest() == f["sha256"], f"{p.name}: sha256 mismatch")
        gz = p.name.endswith(".gz")
        if f["format"] == "warc":
            responses = 0
            warcinfo_id = None
            for off, length, rec in (gzip_members(data) if gz else plain_records(data)):
                h, block = parse_warc_record(rec)
                if h["WARC-Type"] == "warcinfo":
                    check(off == 0, "warcinfo not first")
                    warcinfo_id = h["WARC-Record-ID"]
                    continue
                check(h["WARC-Type"] == "response", "unexpected record type")
                check(h["Content-Type"] == "application/http; msgtype=response", "content type")
                check(h["WARC-Warcinfo-ID"] == warcinfo_id, "warcinfo id")
                check(h["WARC-Block-Digest"] == sha1_b32(block), "block digest")
                hh_end = block.index(b"\r\n\r\n")
                http_head = block[:hh_end].decode("ascii").split("\r\n")
                check(http_head[0] == "HTTP/1.1 200 OK", "status line")
                hh = dict(line.split(": ", 1) for line in http_head[1:])
                payload = block[hh_end + 4:]
                check(int(hh["Content-Length"]) == len(payload), "HTTP Content-Length")
                check(hh["Content-Type"] == "text/html; charset=utf-8", "HTTP Content-Type")
                check(h["WARC-Payload-Digest"] == sha1_b32(payload), "payload digest")
                t = warc_ids.get(h["WARC-Record-ID"])
                check(t is not None, "WARC record not in truth")
                check(t["url"] == h["WARC-Target-URI"], "URL mismatch")
                check((t["warc_file"], t["warc_offset"], t["warc_length"]) == (f["path"], off, length),
                      "truth location mismatch")
                check(t["html_bytes"] == len(payload), "html_bytes mismatch")
                payloads[t["id"]] = payload
                responses += 1
            check(responses == f["records"], f"{p.name}: {responses} records, manifest says {f['records']}")
            n_warc += responses
        else:
            raw = gzip.decompress(data) if gz else data
            lines = raw.decode("utf-8").splitlines()
            check(len(lines) == f["records"], f"{p.name}: {len(lines)} lines, manifest says {f['records']}")
            for line in lines:
                o = json.loads(line)
                check(set(o) == {"id", "url", "text"}, "JSONL keys")
                t = by_id[o["id"]]
                check(t["url"] == o["url"], "JSONL URL mismatch")
                check(t["text_bytes"] == len(o["text"].encode("utf-8")), "text_bytes mismatch")
                texts[o["id"]] = o["text"]
            n_jsonl += len(lines)
    fmt = manifest["parameters"]["format"]
    if fmt in ("warc", "both"):
        check(n_warc == len(truth), "WARC record count != truth")
    if fmt in ("jsonl", "both"):
        check(n_jsonl == len(truth), "JSONL record count != truth")

    if payloads:
        uniq = [payloads[t["id"]] for t in truth if t["kind"] == "unique"]
        check(len(set(uniq)) == len(uniq), "two unique records have identical payloads")
        for t in truth:
            if t["kind"] == "exact":
                check(payloads[t["id"]] == payloads[t["source_id"]], "exact copy differs from source")
            elif t["kind"] == "near":
                check(payloads[t["id"]] != payloads[t["source_id"]], "near copy identical to source")
    if payloads and texts and not args.no_text_check:
        for rid, payload in payloads.items():
            check(extract_text(payload.decode("utf-8")) == texts[rid], f"{rid}: WARC text != JSONL text")

    # Jaccard of near-duplicates vs. their sources, by edit fraction (sampled).
    get_text = (lambda i: texts[i]) if texts else (lambda i: extract_text(payloads[i].decode("utf-8")))
    rng = random.Random(0)
    near = [t for t in truth if t["kind"] == "near"]
    rng.shuffle(near)
    jac = collections.defaultdict(list)
    for t in near[: args.jaccard_sample]:
        jac[t["edit_fraction"]].append(jaccard(get_text(t["id"]), get_text(t["source_id"])))
    print("near-duplicate word-5-shingle Jaccard vs source (sampled):")
    for k in sorted(jac):
        v = jac[k]
        print(f"  edit {k:>5}: n={len(v):4d} mean={statistics.mean(v):.3f} min={min(v):.3f} max={max(v):.3f}")
    gens = collections.defaultdict(list)
    for t in truth:
        if t["kind"] == "unique":
            gens[t["page"]].append(t)
    cross = [(v[0], v[1]) for v in gens.values() if len(v) > 1][:50]
    if cross:
        js = [jaccard(get_text(a["id"]), get_text(b["id"])) for a, b in cross]
        print(f"same page, different generation: n={len(js)} mean Jaccard={statistics.mean(js):.4f} max={max(js):.4f}")

    try:
        from warcio.archiveiterator import ArchiveIterator
    except ImportError:
        print("warcio not installed: skipped warcio check")
    else:
        for f in manifest["files"]:
            if f["format"] != "warc":
                continue
            n = 0
            with open(d / f["path"], "rb") as fh:
                it = ArchiveIterator(fh, check_digests=True)
                for rec in it:
                    rec.content_stream().read()
                    check(rec.digest_checker.passed is (True if rec.rec_type == "response" else None),
                          f"warcio digest check on {f['path']} at {it.get_record_offset()}: "
                          f"{rec.digest_checker.passed} {rec.digest_checker.problems}")
                    if rec.rec_type == "response":
                        n += 1
            check(n == f["records"], f"warcio read {n} responses from {f['path']}, expected {f['records']}")
        print("warcio: every WARC record read, block and payload digests pass")

    print(f"OK: {len(truth)} records ({dict(kinds)}), {n_warc} WARC responses, {n_jsonl} JSONL lines, "
          f"{len(manifest['files'])} files")


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
