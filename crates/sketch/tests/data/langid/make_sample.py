#!/usr/bin/env python3
"""Writes sample.jsonl.gz: texts with langid.py 1.1.6's answers, for the test
`langid_equals_langid_py` (crates/sketch/tests/langid.rs).

Texts: prefixes of the benchmark's Debian documentation page texts
(/tmp/deb3.jsonl: one {"text": ...} per line), cut at a character boundary
to lengths cycling through 40..3000 bytes (short ones give unsaturated
probabilities); up to 12 texts per language langid.py finds in the whole
file (its answer on the first 8 KiB), then English ones up to 200 texts, in
file order (with /tmp/deb3.jsonl's 29 languages: 288 texts, no English fill).
Answers: langid.py 1.1.6 (PyPI `langid`, the published model),
`LanguageIdentifier.from_modelstring(model, norm_probs=True).classify(bytes)`
on the UTF-8 bytes of each committed text: {"text", "class", "probability"}.

    /tmp/lang-venv/bin/pip install langid==1.1.6 numpy
    /tmp/lang-venv/bin/python crates/sketch/tests/data/langid/make_sample.py /tmp/deb3.jsonl \
        crates/sketch/tests/data/langid/sample.jsonl.gz
"""
import gzip
import json
import sys

from langid.langid import LanguageIdentifier, model

LENGTHS = [40, 80, 160, 320, 640, 1200, 2000, 3000]
PER_LANGUAGE = 12
TOTAL = 200


def prefix(data, n):
    if len(data) <= n:
        return data
    while n > 0 and (data[n] & 0xC0) == 0x80:
        n -= 1
    return data[:n]


def main():
    ident = LanguageIdentifier.from_modelstring(model, norm_probs=True)
    texts = [json.loads(line)["text"].encode("utf-8") for line in open(sys.argv[1], encoding="utf-8")]
    per = {}
    picked = []
    for i, t in enumerate(texts):
        lang = ident.classify(prefix(t, 8192))[0]
        if lang != "en" and per.get(lang, 0) < PER_LANGUAGE:
            per[lang] = per.get(lang, 0) + 1
            picked.append(i)
    for i, t in enumerate(texts):
        if len(picked) >= TOTAL:
            break
        if i not in picked and ident.classify(prefix(t, 8192))[0] == "en":
            picked.append(i)
    picked.sort()
    with gzip.GzipFile(sys.argv[2], "wb", mtime=0) as out:
        for k, i in enumerate(picked):
            text = prefix(texts[i], LENGTHS[k % len(LENGTHS)])
            cls, prob = ident.classify(text)
            line = {"text": text.decode("utf-8"), "class": cls, "probability": float(prob)}
            out.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))


if __name__ == "__main__":
    main()
