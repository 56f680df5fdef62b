#!/usr/bin/env python3
"""Inputs of the query-service benchmark, from the corpus JSONL (bench/query/run.sh).

  prepare.py urls CORPUS_DIR OUT N        N distinct URLs of the corpus, a seeded
                                          sample in seeded random order, one a line
  prepare.py cdxj CORPUS_DIR OUT          a pywb CDXJ index of every record
                                          (run with the pywb venv's python: the
                                          SURT keys are pywb's own canonicalize())

CDXJ line: `<surt> <14-digit timestamp> {"url", "mime", "status", "digest",
"length", "offset", "filename"}`, sorted bytewise (pywb binary-searches it).
digest = sha1 (base32) of the text; offset = line number in its JSONL file.
"""

import base64
import gzip
import hashlib
import json
import random
import sys
from pathlib import Path


def records(corpus: Path):
    manifest = json.loads((corpus / "manifest.json").read_text())
    for f in manifest["files"]:
        if f["format"] != "jsonl":
            continue
        p = corpus / f["path"]
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                yield f["path"], n, json.loads(line)


def cmd_urls(corpus: Path, out: Path, n: int) -> None:
    seen = {}
    for _, _, d in records(corpus):
        seen.setdefault(d["url"], None)
    urls = list(seen)
    rng = random.Random(0)
    sample = rng.sample(urls, min(n, len(urls)))
    out.write_text("".join(u + "\n" for u in sample))
    print(f"{len(sample)} of {len(urls)} distinct URLs -> {out}", file=sys.stderr)


def cmd_cdxj(corpus: Path, out: Path) -> None:
    from pywb.utils.canonicalize import canonicalize

    lines = []
    for path, n, d in records(corpus):
        text = d["text"].encode("utf-8")
        ts = d["date"].replace("-", "").replace("T", "").replace(":", "").rstrip("Z")
        meta = {
            "url": d["url"],
            "mime": "text/plain",
            "status": "200",
            "digest": base64.b32encode(hashlib.sha1(text).digest()).decode("ascii"),
            "length": str(len(text)),
            "offset": str(n),
            "filename": path,
        }
        lines.append(f"{canonicalize(d['url'])} {ts} {json.dumps(meta, separators=(', ', ': '))}\n".encode("utf-8"))
    lines.sort()
    tmp = out.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.writelines(lines)
    tmp.replace(out)
    print(f"{len(lines)} CDXJ lines -> {out}", file=sys.stderr)


if __name__ == "__main__":
    cmd, corpus, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if cmd == "urls":
        cmd_urls(corpus, out, int(sys.argv[4]))
    elif cmd == "cdxj":
        cmd_cdxj(corpus, out)
    else:
        raise SystemExit(__doc__)
