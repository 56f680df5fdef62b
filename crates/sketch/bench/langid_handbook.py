#!/usr/bin/env python3
"""Accuracy of langid vs whatlang on debian-handbook's translations (issue 17).

    apt-get download debian-handbook && dpkg-deb -x debian-handbook_*.deb /tmp/dh
    python3 crates/sketch/bench/langid_handbook.py select /tmp/dh/usr/share/doc/debian-handbook/html /tmp/hb
    for f in /tmp/hb/*.jsonl; do
        target/release/examples/langid_bench $f --answers | sed "s/^/$(basename $f .jsonl)\t/"
    done > /tmp/hb_answers.tsv
    python3 crates/sketch/bench/langid_handbook.py score /tmp/hb_answers.tsv

select: per language directory, the pages with at least 200 bytes of text
(body, tags removed, as handbook_jsonl.py) of which under 70 % of the 5-word
shingles occur in the en-US page of the same name (translated pages), then
50 spread evenly over them in name order; one {"text"} per line.
score: per language, how many pages each detector answers right with a
reliable answer (whatlang's is_reliable; langid's probability >= 0.9 on
>= 64 bytes with some feature, as detect_language) — no answer is a miss.
"""
import html
import json
import os
import re
import sys

EXPECTED = {
    "ar-MA": "ara", "ca-ES": "cat", "cs-CZ": "ces", "da-DK": "dan", "de-DE": "deu",
    "el-GR": "ell", "en-US": "eng", "es-ES": "spa", "fa-IR": "pes", "fr-FR": "fra",
    "hr-HR": "hrv", "id-ID": "ind", "it-IT": "ita", "ja-JP": "jpn", "ko-KR": "kor",
    "nb-NO": "nob", "nl-NL": "nld", "pl-PL": "pol", "pt-BR": "por", "ro-RO": "ron",
    "ru-RU": "rus", "sv-SE": "swe", "tr-TR": "tur", "vi-VN": "vie", "zh-CN": "cmn",
    "zh-TW": "cmn",
}


def page_text(path):
    s = open(path, encoding="utf-8").read()
    body = re.search(r"<body[^>]*>(.*)</body>", s, re.S)
    s = body.group(1) if body else s
    s = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", s, flags=re.S)
    t = html.unescape(re.sub(r"<[^>]+>", " ", s))
    return re.sub(r"\s+", " ", t).strip()


def shingles(t):
    w = t.split()
    return {" ".join(w[i:i + 5]) for i in range(max(0, len(w) - 4))}


def select(root, out):
    os.makedirs(out, exist_ok=True)
    en_dir = os.path.join(root, "en-US")
    english = {n: page_text(os.path.join(en_dir, n)) for n in os.listdir(en_dir) if n.endswith(".html")}
    for lang in sorted(os.listdir(root)):
        d = os.path.join(root, lang)
        good = []
        for n in sorted(n for n in os.listdir(d) if n.endswith(".html")):
            t = page_text(os.path.join(d, n))
            if len(t.encode()) < 200:
                continue
            if lang != "en-US" and n in english:
                a = shingles(t)
                if a and len(a & shingles(english[n])) / len(a) > 0.7:
                    continue
            good.append(t)
        pick = good[::max(1, len(good) // 50)][:50]
        with open(os.path.join(out, lang + ".jsonl"), "w", encoding="utf-8") as f:
            for t in pick:
                f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        print(f"{lang}: {len(good)} translated pages, {len(pick)} picked")


def score(answers):
    src = os.path.join(os.path.dirname(__file__), "..", "src", "langid.rs")
    codes = dict(re.findall(r'\("(\w\w)", "(\w+)"\)', open(src, encoding="utf-8").read()))
    per = {}
    for line in open(answers, encoding="utf-8"):
        lang, _, label, p, feats, nbytes, wcode, _, wrel = line.rstrip("\n").split("\t")
        want = EXPECTED[lang]
        reliable = float(p) >= 0.9 and int(nbytes) >= 64 and int(feats) > 0
        n, w, l = per.get(lang, (0, 0, 0))
        per[lang] = (n + 1, w + (wrel == "true" and wcode == want), l + (reliable and codes[label] == want))
    total = [0, 0, 0]
    print(f"{'language':9} {'pages':>5} {'whatlang':>14} {'langid':>14}")
    for lang, (n, w, l) in sorted(per.items()):
        total = [total[0] + n, total[1] + w, total[2] + l]
        print(f"{lang:9} {n:5d} {w:5d} {100 * w / n:6.1f} % {l:5d} {100 * l / n:6.1f} %")
    n, w, l = total
    print(f"{'all':9} {n:5d} {w:5d} {100 * w / n:6.1f} % {l:5d} {100 * l / n:6.1f} %")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "select":
        select(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "score":
        score(sys.argv[2])
    else:
        raise SystemExit(__doc__)
