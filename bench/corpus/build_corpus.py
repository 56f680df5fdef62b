#!/usr/bin/env python3
"""Deterministic benchmark corpus builder for provindex.

Builds seeded WARC and/or JSONL corpora from real HTML documentation pages
(Debian documentation packages) with a known duplicate structure, plus a
ground-truth file (truth.jsonl) and a manifest (manifest.json).

Python 3.11 standard library only. See bench/corpus/README.md.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import collections
import email.utils
import hashlib
import html
import json
import os
import pickle
import random
import re
import subprocess
import sys
import time
import uuid
import zlib
from html.parser import HTMLParser
from pathlib import Path

BUILDER_VERSION = "1.0.0"
# Bump when the page parser / text extraction changes (invalidates the parse cache).
PARSER_VERSION = 2

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCES_DIR = HERE.parent / "out" / "sources"

# Debian package -> (HTML root inside the package, stable base URL, short slug).
SOURCES = {
    "linux-doc-6.1": ("usr/share/doc/linux-doc-6.1/html", "https://docs.kernel.org/", "linux-doc"),
    "python3.11-doc": ("usr/share/doc/python3.11/html", "https://docs.python.org/3.11/", "python-doc"),
    "debian-handbook": ("usr/share/doc/debian-handbook/html", "https://debian-handbook.info/browse/", "debian-handbook"),
    "postgresql-doc-15": ("usr/share/doc/postgresql-doc-15/html", "https://www.postgresql.org/docs/15/", "postgresql-doc"),
}

# Hosts on which exact and near-duplicate copies appear (RFC 2606 example domains).
def mirror_hosts(n: int) -> list[str]:
    """The first n mirror hosts: docs-mirror01.example.org, archive01.example.net,
    cache01.example.com, docs-mirror02.example.org, ..."""
    names = (("docs-mirror", "org"), ("archive", "net"), ("cache", "com"))
    return [f"{names[k % 3][0]}{k // 3 + 1:02d}.example.{names[k % 3][1]}" for k in range(n)]


MIRROR_HOSTS = mirror_hosts(24)

WARC_BASE_TIME = 1704067200  # 2024-01-01T00:00:00Z
UUID_NAMESPACE = uuid.UUID("6f1c1b8e-3a52-5a4e-9d0b-70726f76696e")  # fixed, arbitrary
GZIP_LEVEL = 6
VOCAB_BAND = 64  # generation remapping permutes words within bands of 64 frequency ranks

# ---------------------------------------------------------------------------
# HTML parsing: one pass per source page, producing an editable structure.
# ---------------------------------------------------------------------------

SKIP_TAGS = frozenset({"script", "style", "head", "noscript", "template"})
BLOCK_TAGS = frozenset("""
address article aside blockquote body br caption center dd details dialog dir div dl dt
fieldset figcaption figure footer form frameset h1 h2 h3 h4 h5 h6 header hgroup hr html
legend li main menu nav ol option p pre section summary table tbody tfoot thead title tr ul
""".split())
CELL_TAGS = frozenset({"td", "th"})

_WS_RUN = re.compile(r"[^\S\n]+")
_NL_SPACES = re.compile(r" ?\n ?")
_MANY_NL = re.compile(r"\n{3,}")
_WORD = re.compile(r"\w+")
_SPLIT_NONWORD = re.compile(r"(\W+)")
_SPLIT_WS = re.compile(r"(\s+)")


def finish_text(raw: str) -> str:
    """Whitespace normalisation of extracted visible text (one definition)."""
    t = _WS_RUN.sub(" ", raw)
    t = _NL_SPACES.sub("\n", t)
    t = _MANY_NL.sub("\n\n", t)
    return t.strip()


def esc(s: str) -> str:
    """html.escape(s, quote=False), inlined (called once per text node)."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class PageParser(HTMLParser):
    """Splits a page into markup and visible text nodes.

    After close():
      parts[i]  markup (HTML, already serialised) before text node i; len = n+1
      texts[i]  visible text node i (unescaped); editable
      seps[i]   text-layout separator before text node i ("\\n" for block tags,
                whitespace-only visible nodes); len = n+1
    HTML   = parts[0] + esc(texts[0]) + parts[1] + ... + parts[n]
    text   = finish_text(seps[0] + texts[0] + seps[1] + ... + seps[n])
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.texts: list[str] = []
        self.seps: list[str] = []
        self._cur: list[str] = []
        self._sep: list[str] = []
        self._skip = 0

    def _tag(self, tag: str, start: bool) -> None:
        if tag in SKIP_TAGS:
            if start:
                self._skip += 1
            elif self._skip:
                self._skip -= 1
        elif tag == "body" and start:
            self._skip = 0  # an unclosed <head> ends here
            self._sep.append("\n")
        elif tag in BLOCK_TAGS:
            self._sep.append("\n")
        elif tag in CELL_TAGS and start:
            self._sep.append(" ")

    def handle_starttag(self, tag, attrs):
        self._cur.append(self.get_starttag_text() or f"<{tag}>")
        self._tag(tag, True)

    def handle_startendtag(self, tag, attrs):
        self._cur.append(self.get_starttag_text() or f"<{tag}/>")
        if tag in BLOCK_TAGS:
            self._sep.append("\n")

    def handle_endtag(self, tag):
        self._cur.append(f"</{tag}>")
        self._tag(tag, False)

    def handle_data(self, data):
        if self.cdata_elem is not None:  # raw script/style content
            self._cur.append(data)
        elif self._skip:
            self._cur.append(esc(data))
        elif not data.strip():
            self._cur.append(data)
            self._sep.append(data)
        else:
            self.parts.append("".join(self._cur))
            self.seps.append("".join(self._sep))
            self._cur = []
            self._sep = []
            self.texts.append(data)

    def handle_comment(self, data):
        self._cur.append(f"<!--{data}-->")

    def handle_decl(self, decl):
        self._cur.append(f"<!{decl}>")

    def handle_pi(self, data):
        self._cur.append(f"<?{data}>")

    def unknown_decl(self, data):
        self._cur.append(f"<![{data}]>")

    def close(self):
        super().close()
        self.parts.append("".join(self._cur))
        self.seps.append("".join(self._sep))
        self._cur = []
        self._sep = []


def interleave(outer: list[str], inner: list[str]) -> str:
    out = [""] * (len(outer) + len(inner))
    out[0::2] = outer
    out[1::2] = inner
    return "".join(out)


def parse_page(markup: str):
    p = PageParser()
    p.feed(markup)
    p.close()
    return p.parts, p.texts, p.seps


def extract_text(markup: str) -> str:
    """Visible text of an HTML page (used by the JSONL output and by verification)."""
    parts, texts, seps = parse_page(markup)
    return finish_text(interleave(seps, texts))


class Page:
    __slots__ = ("pkg", "rel", "parts", "texts", "seps", "wc", "cum", "words", "html", "text")

    def __init__(self, pkg, rel, parts, texts, seps, wc=None):
        self.pkg = pkg
        self.rel = rel
        self.parts = parts
        self.texts = texts
        self.seps = seps
        self.wc = wc if wc is not None else [len(t.split()) for t in texts]
        self.words = sum(self.wc)
        self.cum = None  # cumulative word counts, built on first edit
        self.html = None  # base rendering (bytes), built lazily
        self.text = None


# ---------------------------------------------------------------------------
# Sources: apt-get download + dpkg-deb -x into a reusable cache directory.
# ---------------------------------------------------------------------------


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fetch_package(pkg: str, cache: Path) -> tuple[Path, str]:
    debs_dir = cache / "debs"
    debs_dir.mkdir(parents=True, exist_ok=True)

    def find():
        return sorted(debs_dir.glob(f"{pkg}_*.deb"))

    debs = find()
    if not debs:
        log(f"[sources] apt-get download {pkg}")
        r = subprocess.run(["apt-get", "download", pkg], cwd=debs_dir)
        if r.returncode != 0 or not find():
            log("[sources] download failed; running apt-get update and retrying")
            subprocess.run(["apt-get", "update"], check=False)
            subprocess.run(["apt-get", "download", pkg], cwd=debs_dir, check=True)
        debs = find()
    if not debs:
        raise SystemExit(f"could not download Debian package {pkg}")
    deb = debs[-1]
    version = deb.name[len(pkg) + 1:].rsplit("_", 1)[0]
    xdir = cache / "x" / pkg
    marker = xdir / f".extracted-{deb.name}"
    if not marker.exists():
        log(f"[sources] dpkg-deb -x {deb.name}")
        xdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(xdir)], check=True)
        marker.touch()
    return xdir, version


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_pages(packages: list[str], cache: Path, min_words: int):
    """Returns (pages, source_info). Pages are sorted by (package, path); pages whose
    visible text is an exact duplicate of an earlier page's are dropped."""
    info = []
    for pkg in packages:
        xdir, version = fetch_package(pkg, cache)
        info.append({"package": pkg, "version": version})
    key = hashlib.sha256(json.dumps([PARSER_VERSION, min_words, info], sort_keys=True).encode()).hexdigest()[:16]
    cache_file = cache / f"parsed-{key}.pickle"
    if cache_file.exists():
        t0 = time.time()
        with open(cache_file, "rb") as f:
            rows, info = pickle.load(f)
        pages = [Page(*row) for row in rows]
        log(f"[sources] loaded {len(pages)} parsed pages from {cache_file.name} in {time.time() - t0:.1f}s")
        return pages, info

    t0 = time.time()
    pages: list[Page] = []
    seen_text: set[bytes] = set()
    intern: dict[str, str] = {}
    for entry in info:
        pkg = entry["package"]
        root = cache / "x" / pkg / SOURCES[pkg][0]
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html") if p.is_file())
        kept = dropped_short = dropped_dup = 0
        for rel in files:
            raw = (root / rel).read_bytes()
            markup = raw.decode("utf-8", errors="replace")
            parts, texts, seps = parse_page(markup)
            seps = [intern.setdefault(s, s) for s in seps]
            page = Page(pkg, rel, parts, texts, seps)
            if page.words < min_words:
                dropped_short += 1
                continue
            th = hashlib.sha1(finish_text(interleave(seps, texts)).encode()).digest()
            if th in seen_text:
                dropped_dup += 1
                continue
            seen_text.add(th)
            pages.append(page)
            kept += 1
        entry.update({"html_files": len(files), "pages": kept,
                      "dropped_too_short": dropped_short, "dropped_exact_text_duplicate": dropped_dup})
        log(f"[sources] {pkg} {entry['version']}: {len(files)} html files, {kept} pages kept "
            f"({dropped_short} < {min_words} words, {dropped_dup} duplicate text)")
    log(f"[sources] parsed {len(pages)} pages in {time.time() - t0:.1f}s")
    tmp = cache_file.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        # plain tuples, so the cache loads whether this file runs as a script or a module
        rows = [(p.pkg, p.rel, p.parts, p.texts, p.seps, p.wc) for p in pages]
        pickle.dump((rows, info), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, cache_file)
    return pages, info


# ---------------------------------------------------------------------------
# Variants: generations (vocabulary remapping) and near-duplicate edits.
# ---------------------------------------------------------------------------


class Vocabulary:
    """Word remapping for generations >= 1.

    All \\w+ words of all pages are ranked by (frequency desc, word) and cut into
    bands of VOCAB_BAND ranks. Generation g rotates every band by an offset
    that is never 0 (for g >= 1) and distinct for g = 1..VOCAB_BAND-1, so every
    word changes into another word of similar frequency: the page keeps its
    markup, length, word-frequency profile and layout, but shares (almost) no
    word shingle with any other generation of itself.
    """

    def __init__(self, pages: list[Page], seed: int):
        t0 = time.time()
        counts = collections.Counter()
        for p in pages:
            counts.update(_WORD.findall("\n".join(p.texts)))
        self.ranked = sorted(counts, key=lambda w: (-counts[w], w))
        # rank of every word; "" (the empty edge pieces of re.split) maps to itself
        self.rank = {w: i for i, w in enumerate(self.ranked)}
        self.rank[""] = len(self.ranked)
        nb = (len(self.ranked) + VOCAB_BAND - 1) // VOCAB_BAND
        r = random.Random(f"{seed}:vocab-bands")
        self.band_hash = [r.randrange(1 << 30) for _ in range(nb)]
        self._tables: dict[int, list[str]] = {}
        log(f"[vocab] {len(self.ranked)} distinct words in {time.time() - t0:.1f}s")

    def table(self, gen: int) -> list[str]:
        """table[rank of w] = the word w becomes in generation gen."""
        tab = self._tables.get(gen)
        if tab is None:
            ranked = self.ranked
            n = len(ranked)
            tab = []
            for b, h in enumerate(self.band_hash):
                start = b * VOCAB_BAND
                band = ranked[start:start + VOCAB_BAND]
                length = len(band)
                off = 0 if length <= 1 else 1 + (h + gen - 1) % (length - 1)
                tab.extend(band[off:] + band[:off])
            tab.append("")
            assert len(tab) == n + 1
            self._tables[gen] = tab
        return tab

    def remap(self, texts: list[str], gen: int) -> list[str]:
        get_new = self.table(gen).__getitem__
        get_rank = self.rank.__getitem__
        split = _SPLIT_NONWORD.split
        out = []
        for t in texts:
            pieces = split(t)  # even indices: \w+ words (or ""), odd: separators
            words = pieces[0::2]
            pieces[0::2] = map(get_new, map(get_rank, words))
            out.append("".join(pieces))
        return out


def apply_edits(page: Page, texts: list[str], frac: float, rng: random.Random, pool: list[str]):
    """Edits round(frac * words) whitespace-delimited words of the visible text:
    each chosen word is replaced, deleted, or followed by an inserted word
    (operation uniform at random; new words drawn from the corpus word pool)."""
    if page.cum is None:
        cum, s = [], 0
        for c in page.wc:
            s += c
            cum.append(s)
        page.cum = cum
    total = page.words
    n = max(1, round(frac * total))
    positions = sorted(rng.sample(range(total), n))
    texts = list(texts)
    ops = collections.Counter()
    i = 0
    while i < n:
        node = bisect.bisect_right(page.cum, positions[i])
        base = page.cum[node] - page.wc[node]
        split = _SPLIT_WS.split(texts[node])
        word_slots = [k for k in range(0, len(split), 2) if split[k]]
        while i < n and positions[i] < page.cum[node]:
            k = word_slots[positions[i] - base]
            op = rng.randrange(3)
            if op == 0:
                split[k] = rng.choice(pool)
                ops["replace"] += 1
            elif op == 1:
                split[k] = ""
                ops["delete"] += 1
            else:
                split[k] = split[k] + " " + rng.choice(pool)
                ops["insert"] += 1
            i += 1
        texts[node] = "".join(split)
    return texts, n, dict(sorted(ops.items()))


def render(page: Page, texts: list[str]) -> tuple[bytes, str]:
    markup = interleave(page.parts, [esc(t) for t in texts])
    text = finish_text(interleave(page.seps, texts))
    return markup.encode("utf-8"), text


def base_render(page: Page) -> tuple[bytes, str]:
    if page.html is None:
        page.html, page.text = render(page, page.texts)
    return page.html, page.text


# ---------------------------------------------------------------------------
# Output writers
# ---------------------------------------------------------------------------


def gzip_bytes(data: bytes) -> bytes:
    return zlib.compress(data, GZIP_LEVEL, wbits=31)


class StreamGzip:
    def __init__(self, f):
        self.f = f
        self.z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)

    def write(self, data: bytes) -> None:
        self.f.write(self.z.compress(data))

    def close(self) -> None:
        self.f.write(self.z.flush())
        self.f.close()


def sha1_b32(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def warc_date(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def warc_record(headers: list[tuple[str, str]], block: bytes) -> bytes:
    head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"Content-Length: {len(block)}\r\n\r\n"
    return head.encode("utf-8") + block + b"\r\n\r\n"


class Writer:
    def __init__(self, args, out: Path):
        self.args = args
        self.out = out
        self.want_warc = args.format in ("warc", "both")
        self.want_jsonl = args.format in ("jsonl", "both")
        self.files: list[dict] = []
        self.file_no = -1
        self.in_file = 0
        self.warc_f = None
        self.jsonl_f = None
        self.warc_offset = 0
        self.warcinfo_id = None
        self.truth = open(out / "truth.jsonl", "wb")

    def _name(self, kind: str) -> str:
        ext = {"warc": ".warc", "jsonl": ".jsonl"}[kind]
        return f"corpus-{self.file_no:05d}{ext}" + (".gz" if self.args.gzip else "")

    def _open_next(self) -> None:
        self._close_current()
        self.file_no += 1
        self.in_file = 0
        if self.want_warc:
            name = self._name("warc")
            self.warc_f = open(self.out / name, "wb")
            self.files.append({"path": name, "format": "warc", "records": 0})
            self.warcinfo_id = f"<urn:uuid:{uuid.uuid5(UUID_NAMESPACE, f'{self.args.seed}/warcinfo/{self.file_no}')}>"
            fields = (
                f"software: provindex bench/corpus/build_corpus.py {BUILDER_VERSION}\r\n"
                "format: WARC File Format 1.1\r\n"
                "conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n"
                f"isPartOf: provindex-bench-corpus-seed{self.args.seed}\r\n"
                "description: synthetic benchmark crawl of Debian documentation pages with a known duplicate structure (see truth.jsonl)\r\n"
            ).encode("utf-8")
            rec = warc_record([
                ("WARC-Type", "warcinfo"),
                ("WARC-Record-ID", self.warcinfo_id),
                ("WARC-Date", warc_date(WARC_BASE_TIME)),
                ("WARC-Filename", name),
                ("Content-Type", "application/warc-fields"),
            ], fields)
            data = gzip_bytes(rec) if self.args.gzip else rec
            self.warc_f.write(data)
            self.warc_offset = len(data)
        if self.want_jsonl:
            name = self._name("jsonl")
            f = open(self.out / name, "wb")
            self.jsonl_f = StreamGzip(f) if self.args.gzip else f
            self.files.append({"path": name, "format": "jsonl", "records": 0})

    def _close_current(self) -> None:
        if self.warc_f:
            self.warc_f.close()
            self.warc_f = None
        if self.jsonl_f:
            self.jsonl_f.close()
            self.jsonl_f = None

    def add(self, index: int, rid: str, url: str, payload: bytes, text: str, truth: dict,
            ts: int | None = None) -> None:
        """ts: capture time (default WARC_BASE_TIME + index). With --unit passage the
        JSONL line also carries it as "date"."""
        if self.file_no < 0 or self.in_file >= self.args.records_per_file:
            self._open_next()
        self.in_file += 1
        n_new = (1 if self.want_warc else 0) + (1 if self.want_jsonl else 0)
        for f in self.files[-n_new:]:
            f["records"] += 1
        if ts is None:
            ts = WARC_BASE_TIME + index
        if self.want_warc:
            http_head = (
                "HTTP/1.1 200 OK\r\n"
                f"Date: {email.utils.formatdate(ts, usegmt=True)}\r\n"
                "Content-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode("ascii")
            block = http_head + payload
            record_id = f"<urn:uuid:{uuid.uuid5(UUID_NAMESPACE, f'{self.args.seed}/record/{index}')}>"
            rec = warc_record([
                ("WARC-Type", "response"),
                ("WARC-Record-ID", record_id),
                ("WARC-Date", warc_date(ts)),
                ("WARC-Target-URI", url),
                ("WARC-Warcinfo-ID", self.warcinfo_id),
                ("WARC-Payload-Digest", sha1_b32(payload)),
                ("WARC-Block-Digest", sha1_b32(block)),
                ("Content-Type", "application/http; msgtype=response"),
            ], block)
            data = gzip_bytes(rec) if self.args.gzip else rec
            self.warc_f.write(data)
            truth["warc_record_id"] = record_id
            truth["warc_file"] = self.files[-n_new]["path"]
            truth["warc_offset"] = self.warc_offset
            truth["warc_length"] = len(data)
            self.warc_offset += len(data)
        if self.want_jsonl:
            doc = {"id": rid, "url": url, "text": text}
            if self.args.unit == "passage":
                doc = {"id": rid, "url": url, "date": warc_date(ts), "text": text}
            line = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
            self.jsonl_f.write(line.encode("utf-8") + b"\n")
        self.truth.write(json.dumps(truth, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")

    def close(self) -> None:
        self._close_current()
        self.truth.close()


# ---------------------------------------------------------------------------
# Main build loop
# ---------------------------------------------------------------------------


def page_url(page: Page, gen: int) -> str:
    base = SOURCES[page.pkg][1]
    return base + (f"v{gen + 1}/" if gen else "") + page.rel


# ---------------------------------------------------------------------------
# --unit passage: many short records (query-service benchmarks)
# ---------------------------------------------------------------------------

PASSAGE_HEAD = "<!DOCTYPE html>\n<html><head><title>passage</title></head><body><p>"
PASSAGE_TAIL = "</p></body></html>\n"


def split_passages(text: str, w: int) -> list[str]:
    """Cuts a page's visible text into passages of about w words: whole lines are
    joined until a passage has >= w words; a line of more than 2w words is cut
    into runs of w words; a last passage under w/2 words joins the one before."""
    pieces: list[tuple[str, int]] = []
    for line in text.split("\n"):
        words = line.split()
        if not words:
            continue
        if len(words) > 2 * w:
            for k in range(0, len(words), w):
                chunk = words[k:k + w]
                pieces.append((" ".join(chunk), len(chunk)))
        else:
            pieces.append((line.strip(), len(words)))
    out: list[str] = []
    cur: list[str] = []
    n = 0
    for t, c in pieces:
        cur.append(t)
        n += c
        if n >= w:
            out.append("\n".join(cur))
            cur, n = [], 0
    if cur:
        if out and n < w // 2:
            out[-1] += "\n" + "\n".join(cur)
        else:
            out.append("\n".join(cur))
    return out


def passage_page(pkg: str, rel: str, text: str) -> Page:
    return Page(pkg, rel, [PASSAGE_HEAD, PASSAGE_TAIL], [text], ["", ""])


def build_passages(args, pages, pool, page_for, variant_texts, writer, target, size_of):
    """Record loop of --unit passage. Each record is one passage of a real page
    (see split_passages), captured at WARC_BASE_TIME + index * --seconds-per-record:
    - recapture (--recapture-rate): an earlier record's URL captured again, same text;
    - exact / near (as for pages): a copy of an earlier unique passage on one of
      --mirror-hosts hosts, near copies with the same word edits as pages;
    - unique: the next passage of the page sequence (generations as for pages).
    URLs: the page URL + "?part=K" (mirrors: https://HOST/<slug>/[vG/]<path>?part=K)."""
    rng = random.Random(f"{args.seed}:passage")
    hosts = mirror_hosts(args.mirror_hosts)
    uniques: list[tuple[int, str, str, int, str]] = []  # (index, pkg, rel?part=K, gen, text)
    captured: list[tuple[str, str]] = []  # (url, text) of every record so far
    used_urls: set[str] = set()
    counts = collections.Counter()
    by_fraction = collections.Counter()
    total_html = total_text = 0
    index = 0
    n_pages = 0
    queue: list[tuple[int, str]] = []  # passages (K, text) of the current page, reversed
    cur = None  # (page, gen)
    t_start = time.time()
    next_log = time.time() + 5
    edit_fracs = args.edit_fractions
    while True:
        if args.records is not None and index >= args.records:
            break
        if target is not None and (total_html if size_of == "html" else total_text) >= target:
            break
        rid = f"s{args.seed}-{index:08d}"
        ts = WARC_BASE_TIME + index * args.seconds_per_record
        u = rng.random()
        if captured and u < args.recapture_rate:
            kind = "recapture"
        elif uniques and u < args.recapture_rate + args.exact_dup_rate:
            kind = "exact"
        elif uniques and u < args.recapture_rate + args.exact_dup_rate + args.near_dup_rate:
            kind = "near"
        else:
            kind = "unique"
        truth = {"id": rid, "kind": kind}
        if kind == "recapture":
            src = rng.randrange(len(captured))
            url, text = captured[src]
            truth.update(url=url, source_id=f"s{args.seed}-{src:08d}", edit_fraction=0.0)
            page_name, gen = None, None
        elif kind == "unique":
            while not queue:
                pi, gen = page_for(n_pages)
                n_pages += 1
                page = pages[pi]
                full = finish_text(interleave(page.seps, variant_texts(page, gen)))
                queue = list(enumerate(split_passages(full, args.passage_words)))[::-1]
                cur = (page, gen)
            k, text = queue.pop()
            page, gen = cur
            rel = f"{page.rel}?part={k}"
            url = SOURCES[page.pkg][1] + (f"v{gen + 1}/" if gen else "") + rel
            uniques.append((index, page.pkg, rel, gen, text))
            truth.update(url=url, source_id=None, edit_fraction=None)
            page_name = f"{page.pkg}/{page.rel}"
        else:
            src_index, pkg, rel, gen, src_text = uniques[rng.randrange(len(uniques))]
            host = hosts[rng.randrange(len(hosts))]
            url = f"https://{host}/{SOURCES[pkg][2]}/" + (f"v{gen + 1}/" if gen else "") + rel
            if kind == "exact":
                text = src_text
                truth.update(source_id=f"s{args.seed}-{src_index:08d}", edit_fraction=0.0)
            else:
                frac = edit_fracs[rng.randrange(len(edit_fracs))]
                rrng = random.Random(f"{args.seed}:edit:{index}")
                pp = passage_page(pkg, rel, src_text)
                texts, n_edits, ops = apply_edits(pp, pp.texts, frac, rrng, pool)
                text = finish_text(texts[0])
                by_fraction[str(frac)] += 1
                truth.update(source_id=f"s{args.seed}-{src_index:08d}", edit_fraction=frac,
                             edited_words=n_edits, source_words=pp.words, edit_ops=ops)
            if url in used_urls:
                url += f"&copy={index}"
            truth["url"] = url
            page_name = f"{pkg}/{rel.split('?', 1)[0]}"
        used_urls.add(url)
        captured.append((url, text))
        payload = (PASSAGE_HEAD + esc(text) + PASSAGE_TAIL).encode("utf-8")
        truth["page"] = page_name
        truth["generation"] = gen
        truth["html_bytes"] = len(payload)
        truth["text_bytes"] = len(text.encode("utf-8"))
        writer.add(index, rid, url, payload, text, truth, ts=ts)
        counts[kind] += 1
        total_html += len(payload)
        total_text += truth["text_bytes"]
        index += 1
        if time.time() >= next_log:
            next_log = time.time() + 5
            log(f"[build] {index} records, {total_text / 1e6:.0f} MB text, "
                f"{index / max(time.time() - t_start, 1e-9):.0f} records/s")
    return index, counts, by_fraction, total_html, total_text, n_pages


def build(args) -> dict:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("corpus-*.warc*")) + list(out.glob("corpus-*.jsonl*")):
        old.unlink()
    packages = args.sources
    for pkg in packages:
        if pkg not in SOURCES:
            raise SystemExit(f"unknown source package {pkg}; known: {', '.join(SOURCES)}")
    pages, source_info = load_pages(packages, Path(args.sources_dir), args.min_words)
    if not pages:
        raise SystemExit("no source pages")

    t_start = time.time()
    rng = random.Random(args.seed)
    size_of = args.size_of if args.size_of != "auto" else ("text" if args.format == "jsonl" else "html")
    target = int(args.size_mb * 1_000_000) if args.size_mb is not None else None

    # Replacement/insertion word pool, drawn from real text of every page
    # (words of up to 16 evenly spaced text nodes per page, at most 64 per page).
    pool: list[str] = []
    for p in pages:
        step = max(1, len(p.texts) // 16)
        pool.extend(" ".join(p.texts[::step]).split()[:64])

    vocab: Vocabulary | None = None
    orders: dict[int, list[int]] = {}

    def page_for(u: int) -> tuple[int, int]:
        gen, j = divmod(u, len(pages))
        order = orders.get(gen)
        if order is None:
            order = list(range(len(pages)))
            random.Random(f"{args.seed}:order:{gen}").shuffle(order)
            orders.clear()
            orders[gen] = order
        return order[j], gen

    def variant_texts(page: Page, gen: int) -> list[str]:
        nonlocal vocab
        if gen == 0:
            return page.texts
        if vocab is None:
            vocab = Vocabulary(pages, args.seed)
        return vocab.remap(page.texts, gen)

    writer = Writer(args, out)
    if args.unit == "passage":
        index, counts, by_fraction, total_html, total_text, n_unique = build_passages(
            args, pages, pool, page_for, variant_texts, writer, target, size_of)
        return finish(args, out, writer, packages, source_info, pages, size_of, t_start,
                      index, counts, by_fraction, total_html, total_text, n_unique)
    uniques: list[tuple[int, int, int]] = []  # (record index, page index, generation)
    used_urls: set[str] = set()
    counts = collections.Counter()
    by_fraction = collections.Counter()
    total_html = total_text = 0
    index = 0
    n_unique = 0
    next_log = time.time() + 5
    edit_fracs = args.edit_fractions

    while ((target is None or (total_html if size_of == "html" else total_text) < target)
           and (args.records is None or index < args.records)):
        rid = f"s{args.seed}-{index:08d}"
        u = rng.random()
        if uniques and u < args.exact_dup_rate:
            kind = "exact"
        elif uniques and u < args.exact_dup_rate + args.near_dup_rate:
            kind = "near"
        else:
            kind = "unique"

        truth = {"id": rid, "kind": kind}
        if kind == "unique":
            pi, gen = page_for(n_unique)
            n_unique += 1
            page = pages[pi]
            url = page_url(page, gen)
            if gen == 0:
                payload, text = base_render(page)
            else:
                payload, text = render(page, variant_texts(page, gen))
            uniques.append((index, pi, gen))
            truth.update(url=url, source_id=None, edit_fraction=None)
        else:
            src_index, pi, gen = uniques[rng.randrange(len(uniques))]
            page = pages[pi]
            host = MIRROR_HOSTS[rng.randrange(len(MIRROR_HOSTS))]
            url = f"https://{host}/{SOURCES[page.pkg][2]}/" + (f"v{gen + 1}/" if gen else "") + page.rel
            if kind == "exact":
                if gen == 0:
                    payload, text = base_render(page)
                else:
                    payload, text = render(page, variant_texts(page, gen))
                truth.update(url=None, source_id=f"s{args.seed}-{src_index:08d}", edit_fraction=0.0)
            else:
                frac = edit_fracs[rng.randrange(len(edit_fracs))]
                rrng = random.Random(f"{args.seed}:edit:{index}")
                texts, n_edits, ops = apply_edits(page, variant_texts(page, gen), frac, rrng, pool)
                payload, text = render(page, texts)
                by_fraction[str(frac)] += 1
                truth.update(url=None, source_id=f"s{args.seed}-{src_index:08d}", edit_fraction=frac,
                             edited_words=n_edits, source_words=page.words, edit_ops=ops)
            if url in used_urls:
                url += f"?copy={index}"
            truth["url"] = url
        used_urls.add(url)
        truth["page"] = f"{page.pkg}/{page.rel}"
        truth["generation"] = gen
        truth["html_bytes"] = len(payload)
        truth["text_bytes"] = len(text.encode("utf-8"))
        writer.add(index, rid, url, payload, text, truth)
        counts[kind] += 1
        total_html += len(payload)
        total_text += truth["text_bytes"]
        index += 1
        if time.time() >= next_log:
            next_log = time.time() + 5
            done = total_html if size_of == "html" else total_text
            el = time.time() - t_start
            log(f"[build] {index} records, {done / 1e6:.0f}/{(target or 0) / 1e6:.0f} MB {size_of}, "
                f"{done / 1e6 / max(el, 1e-9):.1f} MB/s")
    return finish(args, out, writer, packages, source_info, pages, size_of, t_start,
                  index, counts, by_fraction, total_html, total_text, n_unique)


def finish(args, out, writer, packages, source_info, pages, size_of, t_start,
           index, counts, by_fraction, total_html, total_text, n_unique) -> dict:
    edit_fracs = args.edit_fractions
    writer.close()
    elapsed = time.time() - t_start

    files = []
    for f in writer.files:
        p = out / f["path"]
        files.append({**f, "bytes": p.stat().st_size, "sha256": file_sha256(p)})
    truth_path = out / "truth.jsonl"
    manifest = {
        "builder": "provindex bench/corpus/build_corpus.py",
        "builder_version": BUILDER_VERSION,
        "parser_version": PARSER_VERSION,
        "parameters": {
            "seed": args.seed,
            "size_mb": args.size_mb,
            "size_of": size_of,
            "format": args.format,
            "near_dup_rate": args.near_dup_rate,
            "exact_dup_rate": args.exact_dup_rate,
            "edit_fractions": edit_fracs,
            "records_per_file": args.records_per_file,
            "gzip": args.gzip,
            "min_words": args.min_words,
            "sources": packages,
        },
        "sources": source_info,
        "source_pages": len(pages),
        "records": index,
        "counts_by_kind": {k: counts.get(k, 0) for k in ("unique", "exact", "near")
                           + (("recapture",) if args.unit == "passage" else ())},
        "near_by_edit_fraction": dict(sorted(by_fraction.items(), key=lambda kv: float(kv[0]))),
        "generations": (n_unique - 1) // len(pages) + 1 if n_unique else 0,
        "total_html_bytes": total_html,
        "total_text_bytes": total_text,
        "files": files,
        "truth": {"path": "truth.jsonl", "bytes": truth_path.stat().st_size, "sha256": file_sha256(truth_path)},
    }
    if args.unit == "passage":
        manifest["parameters"].update(
            unit="passage", records=args.records, passage_words=args.passage_words,
            recapture_rate=args.recapture_rate, mirror_hosts=args.mirror_hosts,
            seconds_per_record=args.seconds_per_record)
    elif args.records is not None:
        manifest["parameters"]["records"] = args.records
    with open(out / "manifest.json", "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    out_bytes = sum(f["bytes"] for f in files)
    log(f"[build] done: {index} records ({dict(counts)}), {total_html / 1e6:.1f} MB html, "
        f"{total_text / 1e6:.1f} MB text, {out_bytes / 1e6:.1f} MB written in {len(files)} files, "
        f"{elapsed:.1f}s ({(total_html if size_of == 'html' else total_text) / 1e6 / max(elapsed, 1e-9):.1f} MB/s {size_of})")
    return manifest


def parse_fractions(s: str) -> list[float]:
    vals = [float(x) for x in s.split(",") if x.strip()]
    if not vals or any(not 0 < v <= 1 for v in vals):
        raise argparse.ArgumentTypeError("edit fractions must be in (0, 1]")
    return vals


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--size-mb", type=float, default=None,
                    help="stop once this many MB (10^6 bytes) of payload are written (see --size-of); "
                         "--size-mb, --records or both (whichever is reached first)")
    ap.add_argument("--records", type=int, default=None, help="stop after this many records")
    ap.add_argument("--unit", choices=("page", "passage"), default="page",
                    help="what one record is: a whole page, or a passage of about --passage-words "
                         "words of a page's visible text (many short records; JSONL lines carry a "
                         "\"date\"; recaptures of earlier URLs; see build_passages)")
    ap.add_argument("--passage-words", type=int, default=40, help="--unit passage: words per passage")
    ap.add_argument("--recapture-rate", type=float, default=0.1,
                    help="--unit passage: share of records that capture an earlier record's URL again")
    ap.add_argument("--mirror-hosts", type=int, default=24,
                    help="--unit passage: number of mirror hosts for exact and near copies")
    ap.add_argument("--seconds-per-record", type=int, default=30,
                    help="--unit passage: capture time step between consecutive records")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", choices=("warc", "jsonl", "both"), default="warc")
    ap.add_argument("--size-of", choices=("auto", "html", "text"), default="auto",
                    help="what --size-mb counts: HTTP payload (HTML) or extracted text; "
                         "auto = text for --format jsonl, html otherwise")
    ap.add_argument("--near-dup-rate", type=float, default=0.2)
    ap.add_argument("--exact-dup-rate", type=float, default=0.1)
    ap.add_argument("--edit-fractions", type=parse_fractions, default=parse_fractions("0.01,0.03,0.05,0.1,0.2,0.4"),
                    help="comma-separated word-edit fractions for near-duplicates (one drawn per record)")
    ap.add_argument("--records-per-file", type=int, default=10_000)
    ap.add_argument("--gzip", action=argparse.BooleanOptionalAction, default=True,
                    help="gzip output (one gzip member per WARC record; one stream per JSONL file)")
    ap.add_argument("--sources", nargs="+", default=list(SOURCES), metavar="PKG",
                    help=f"Debian documentation packages to use ({', '.join(SOURCES)})")
    ap.add_argument("--sources-dir", default=str(DEFAULT_SOURCES_DIR),
                    help="cache for downloaded .deb files, extracted trees and the parsed-page cache")
    ap.add_argument("--min-words", type=int, default=20, help="drop pages with fewer visible words")
    args = ap.parse_args(argv)
    if not (0 <= args.exact_dup_rate and 0 <= args.near_dup_rate and args.exact_dup_rate + args.near_dup_rate < 1):
        ap.error("need 0 <= exact-dup-rate, near-dup-rate and their sum < 1")
    if args.size_mb is None and args.records is None:
        ap.error("need --size-mb or --records")
    if args.records_per_file < 1 or (args.size_mb is not None and args.size_mb <= 0) \
            or (args.records is not None and args.records <= 0):
        ap.error("--records-per-file, --size-mb and --records must be positive")
    if args.unit == "passage" and not (
            args.passage_words >= 1 and args.mirror_hosts >= 1 and args.seconds_per_record >= 0
            and 0 <= args.recapture_rate
            and args.recapture_rate + args.exact_dup_rate + args.near_dup_rate < 1):
        ap.error("--unit passage: need --passage-words, --mirror-hosts >= 1 and the three rates' sum < 1")
    build(args)


if __name__ == "__main__":
    main()
