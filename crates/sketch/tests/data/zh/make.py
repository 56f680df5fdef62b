#!/usr/bin/env python3
"""Builds handbook_zh.jsonl: real Chinese paragraphs from The Debian
Administrator's Handbook (Debian package debian-handbook 11.20220922) for the
normalization v2 quality test (crates/sketch/tests/v2_quality.rs).

Usage (Debian; needs the `opencc` Python package, 1.4.2, for the Traditional
versions):

    apt-get download debian-handbook && dpkg-deb -x debian-handbook_*.deb /tmp/dh
    python3 -m venv /tmp/cc && /tmp/cc/bin/pip install opencc==1.4.2
    /tmp/cc/bin/python make.py /tmp/dh/usr/share/doc/debian-handbook/html > handbook_zh.jsonl

Deterministic: files in sorted order, paragraphs in document order; a
paragraph is kept if it has at least 100 Han characters and Han characters
are at least 60% of its non-space characters; every 3rd such paragraph is
taken, at most 80 in all, at most 4 per file.

Fields per line: `id`, `file` (HTML file name), `zh_cn` (the zh-CN paragraph
text), `zh_tw` (the paragraph at the same index of the same file of the
independent zh-TW translation, when that file has the same number of
paragraphs and the paragraph is mostly Han; else null), `s2tw` (OpenCC
`s2tw`: the zh-CN text in Traditional characters, Taiwan variants) and
`s2twp` (OpenCC `s2twp`: also Taiwan phrasing, e.g. 软件 → 軟體).
"""
import html
import json
import os
import re
import sys

import opencc

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def paragraphs(path):
    try:
        s = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        return None
    out = []
    # Body paragraphs are <div class="para"> (no nested divs inside).
    for x in re.findall(r'<div class="para"[^>]*>(.*?)</div>', s, re.S):
        t = html.unescape(re.sub(r"<[^>]+>", "", x))
        t = re.sub(r"\s+", " ", t).strip()
        out.append(t)
    return out


def mostly_han(t, min_han):
    han = len(HAN.findall(t))
    nonspace = len(re.sub(r"\s", "", t))
    return han >= min_han and nonspace > 0 and han / nonspace >= 0.6


def main():
    root = sys.argv[1]
    s2tw = opencc.OpenCC("s2tw")
    s2twp = opencc.OpenCC("s2twp")
    n = 0
    seen = 0
    for name in sorted(os.listdir(os.path.join(root, "zh-CN"))):
        if not name.endswith(".html"):
            continue
        cn = paragraphs(os.path.join(root, "zh-CN", name))
        tw = paragraphs(os.path.join(root, "zh-TW", name))
        aligned = tw is not None and len(tw) == len(cn)
        per_file = 0
        for i, p in enumerate(cn):
            if not mostly_han(p, 100):
                continue
            seen += 1
            if seen % 3 or per_file >= 4 or n >= 80:
                continue
            t = tw[i] if aligned and mostly_han(tw[i], 50) else None
            rec = {
                "id": f"{name}#{i}",
                "file": name,
                "zh_cn": p,
                "zh_tw": t,
                "s2tw": s2tw.convert(p),
                "s2twp": s2twp.convert(p),
            }
            print(json.dumps(rec, ensure_ascii=False))
            n += 1
            per_file += 1


if __name__ == "__main__":
    main()
