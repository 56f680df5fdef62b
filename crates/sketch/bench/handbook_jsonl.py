#!/usr/bin/env python3
"""Writes one JSONL line {"text": ...} per HTML page of one language of the
Debian Administrator's Handbook (Debian package debian-handbook), for
`sketch_bench` (issue 16: Chinese vs English throughput on the same book).

    apt-get download debian-handbook && dpkg-deb -x debian-handbook_*.deb /tmp/dh
    python3 crates/sketch/bench/handbook_jsonl.py /tmp/dh/usr/share/doc/debian-handbook/html/zh-CN > /tmp/hb-zh-CN.jsonl

Text = the page's body with tags removed, entities decoded, whitespace runs
collapsed to one space; pages in sorted order.
"""
import html
import json
import os
import re
import sys


def main():
    root = sys.argv[1]
    for name in sorted(os.listdir(root)):
        if not name.endswith(".html"):
            continue
        s = open(os.path.join(root, name), encoding="utf-8").read()
        body = re.search(r"<body[^>]*>(.*)</body>", s, re.S)
        s = body.group(1) if body else s
        s = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", s, flags=re.S)
        t = html.unescape(re.sub(r"<[^>]+>", " ", s))
        t = re.sub(r"\s+", " ", t).strip()
        if t:
            print(json.dumps({"text": t}, ensure_ascii=False))


if __name__ == "__main__":
    main()
