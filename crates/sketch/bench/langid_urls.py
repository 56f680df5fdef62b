#!/usr/bin/env python3
"""Sample sizes against the pages' URL languages, and against langid.py (issue 17).

    langid_bench /tmp/deb3.jsonl --answers --sample N > /tmp/deb3_ans_N.tsv   # for each N
    python3 crates/sketch/bench/langid_urls.py urls /tmp/deb3_ans_ 8192 1024 2048 3072 4096
    /tmp/lang-venv/bin/python crates/sketch/bench/langid_urls.py py /tmp/deb3.jsonl 2048 /tmp/deb3_ans_2048.tsv

urls: /tmp/deb3.jsonl's texts are those of bench/out/pipeline-1g/corpus-0000{0,1,2}.jsonl.gz
in order; a page's URL language is the debian-handbook path's xx-YY, a kernel
translations/xx directory, else English (kernel, PostgreSQL, Python docs). Prints per
size how many reliable answers (as detect_language) equal it, and on the pages whose
answer differs from the reference size's, which of the two equals it.
py: langid.py 1.1.6 with set_languages(all but "la") on each text's first N bytes (cut
at a character boundary) against langid_bench's answers: class and probability to 1e-9.
"""
import collections
import gzip
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from langid_handbook import EXPECTED  # noqa: E402

CORPUS = os.path.join(HERE, "..", "..", "..", "bench", "out", "pipeline-1g")
TRANSLATIONS = {"zh": "cmn", "ja": "jpn", "ko": "kor", "it": "ita", "sp": "spa", "pt": "por"}


def url_language(u):
    m = re.search(r"/([a-z][a-z]-[A-Z][A-Z])/", u)
    if m and m.group(1) in EXPECTED:
        return EXPECTED[m.group(1)]
    m = re.search(r"/translations/(\w\w)", u)
    if m:
        return TRANSLATIONS.get(m.group(1), "?" + m.group(1))
    return "?" if "debian-handbook" in u else "eng"


def answers(path, codes):
    out = []
    for line in open(path, encoding="utf-8"):
        _, cls, p, feats, nbytes, *_ = line.rstrip("\n").split("\t")
        ok = float(p) >= 0.9 and int(nbytes) >= 64 and int(feats) > 0
        out.append(codes[cls] if ok else None)
    return out


def urls(prefix, reference, sizes):
    src = os.path.join(HERE, "..", "src", "langid.rs")
    codes = dict(re.findall(r'\("(\w\w)", "(\w+)"\)', open(src, encoding="utf-8").read()))
    want = []
    for k in range(3):
        with gzip.open(os.path.join(CORPUS, f"corpus-0000{k}.jsonl.gz"), "rt", encoding="utf-8") as f:
            want += [url_language(json.loads(line)["url"]) for line in f]
    ref = answers(f"{prefix}{reference}.tsv", codes)
    print(f"{reference}: URL's language {sum(a == w for a, w in zip(ref, want))}/{len(want)}")
    for n in sizes:
        got = answers(f"{prefix}{n}.tsv", codes)
        changed = [i for i in range(len(got)) if got[i] != ref[i]]
        r = sum(ref[i] == want[i] for i in changed)
        g = sum(got[i] == want[i] for i in changed)
        print(f"{n}: URL's language {sum(a == w for a, w in zip(got, want))}/{len(want)}; "
              f"changed {len(changed)}: {reference} right {r}, {n} right {g}, neither {len(changed) - r - g}")
        pairs = collections.Counter((ref[i], got[i]) for i in changed)
        print("   ", pairs.most_common(8))


def py(texts_path, n, answers_path):
    from langid.langid import LanguageIdentifier, model
    ident = LanguageIdentifier.from_modelstring(model, norm_probs=True)
    ident.set_languages([c for c in ident.nb_classes if c != "la"])

    def sample(t):
        b = t.encode("utf-8")
        if len(b) <= n:
            return b
        e = n
        while e > 0 and (b[e] & 0xC0) == 0x80:
            e -= 1
        return b[:e]

    texts = [json.loads(line)["text"] for line in open(texts_path, encoding="utf-8")]
    rust = [line.rstrip("\n").split("\t") for line in open(answers_path, encoding="utf-8")]
    bad, most = 0, 0.0
    for t, r in zip(texts, rust):
        cls, p = ident.classify(sample(t))
        d = abs(float(p) - float(r[2]))
        most = max(most, d)
        bad += cls != r[1] or d > 1e-9
    print(f"{len(texts)} texts, sample {n}: class or probability (1e-9) differ on {bad}; max |dp| {most:.3g}")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "urls":
        urls(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif len(sys.argv) == 5 and sys.argv[1] == "py":
        py(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        raise SystemExit(__doc__)
