"""Text normalization (versions 1 and 2), content_id and token counts, exactly
as provindex computes them (crates/sketch/src/normalize.rs and ids.rs).

One round of normalization is: NFKC; every character replaced by its
context-free full lowercase mapping (Rust's ``char::to_lowercase``: a final
capital sigma becomes ``σ``, ``İ`` becomes ``i`` + U+0307 — not Python's
``str.lower``, which applies the final-sigma rule); then words are cut out:
a word starts at an alphanumeric character (Rust's ``char::is_alphanumeric``:
Unicode ``Alphabetic`` or ``Numeric`` — not Python's ``str.isalnum``, which
misses e.g. Devanagari vowel signs and counts some symbols) and goes on over
alphanumerics and combining marks (General_Category Mark); everything else
is a separator. Words are joined by one ASCII space. Version 2 also makes
each character of a script written without spaces (Han, kana, Thai, … see
``_unicode_data.NO_SPACE``) a word of its own together with the marks that
follow it. The round is repeated (at most twice more) while its output is not
in NFKC, as the Rust code does.

The character properties come from ``_unicode_data``, generated from the same
Rust crates and toolchain (services/pyclient/tools/unicode_tables), so they
do not depend on the Python version. NFKC uses :mod:`unicodedata` (fast)
unless the text holds a character that this Python's Unicode database does
not know but the Rust tables give normalization data; then a pure-Python
NFKC over the generated tables is used.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import xxhash

from . import _unicode_data as _ud

V1 = 1
V2 = 2
VERSIONS = (V1, V2)
LATEST = V2


def _char_class(ranges) -> str:
    """A regex character class body for inclusive code point ranges."""
    parts = []
    for a, b in ranges:
        if a == b:
            parts.append("\\U%08x" % a)
        else:
            parts.append("\\U%08x-\\U%08x" % (a, b))
    return "".join(parts)


def _subtract(ranges, minus):
    """ranges minus the code points of `minus` (both sorted, inclusive)."""
    out = []
    minus = list(minus)
    for a, b in ranges:
        start = a
        for c, d in minus:
            if d < start or c > b:
                continue
            if c > start:
                out.append((start, c - 1))
            start = max(start, d + 1)
            if start > b:
                break
        if start <= b:
            out.append((start, b))
    return out


def _intersect(x, y):
    out = []
    i = j = 0
    while i < len(x) and j < len(y):
        a = max(x[i][0], y[j][0])
        b = min(x[i][1], y[j][1])
        if a <= b:
            out.append((a, b))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


_ALNUM = list(_ud.ALPHANUMERIC)
_MARK = list(_ud.MARK)
_NS_ALNUM = _intersect(_ALNUM, list(_ud.NO_SPACE))
# Alphanumerics that are neither no-space characters nor marks: the ones that
# continue a version 2 word of a script written with spaces.
_PLAIN_ALNUM_NOT_MARK = _subtract(_subtract(_ALNUM, _NS_ALNUM), _MARK)

_A = _char_class(_ALNUM)
_M = _char_class(_MARK)
# Version 1: a word is an alphanumeric followed by alphanumerics and marks.
_WORD_V1 = re.compile("[%s][%s%s]*" % (_A, _A, _M))
# Version 2: a no-space alphanumeric with the marks after it, or another
# alphanumeric followed by marks and alphanumerics that are neither marks
# nor no-space characters (a no-space character after it starts a new word).
_WORD_V2 = re.compile(
    "[%s][%s]*|[%s][%s%s]*"
    % (
        _char_class(_NS_ALNUM),
        _M,
        _char_class(_subtract(_ALNUM, _NS_ALNUM)),
        _M,
        _char_class(_PLAIN_ALNUM_NOT_MARK),
    )
)
_LOWER = dict(_ud.LOWER)


# ---------------------------------------------------------------- NFKC

_S_BASE, _L_BASE, _V_BASE, _T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
_L_COUNT, _V_COUNT, _T_COUNT = 19, 21, 28
_N_COUNT = _V_COUNT * _T_COUNT
_S_COUNT = _L_COUNT * _N_COUNT


def _decompose(text: str) -> list:
    out = []
    for ch in text:
        u = ord(ch)
        s = u - _S_BASE
        if 0 <= s < _S_COUNT:
            out.append(_L_BASE + s // _N_COUNT)
            out.append(_V_BASE + (s % _N_COUNT) // _T_COUNT)
            t = s % _T_COUNT
            if t:
                out.append(_T_BASE + t)
            continue
        d = _ud.DECOMPOSITION.get(u)
        if d is None:
            out.append(u)
        else:
            out.extend(ord(x) for x in d)
    return out


def _reorder(cps: list) -> None:
    """Canonical ordering: stable sort of each run of nonzero classes."""
    ccc = _ud.CCC
    i, n = 0, len(cps)
    while i < n:
        if ccc.get(cps[i], 0) == 0:
            i += 1
            continue
        j = i
        while j < n and ccc.get(cps[j], 0) != 0:
            j += 1
        cps[i:j] = sorted(cps[i:j], key=lambda c: ccc.get(c, 0))
        i = j


def _compose_pair(a: int, b: int):
    li = a - _L_BASE
    if 0 <= li < _L_COUNT:
        vi = b - _V_BASE
        if 0 <= vi < _V_COUNT:
            return _S_BASE + (li * _V_COUNT + vi) * _T_COUNT
        return None
    si = a - _S_BASE
    if 0 <= si < _S_COUNT and si % _T_COUNT == 0:
        ti = b - _T_BASE
        if 0 < ti < _T_COUNT:
            return a + ti
        return None
    return _ud.COMPOSITION.get((a, b))


def _compose(cps: list) -> list:
    if not cps:
        return cps
    ccc = _ud.CCC
    starter_pos = 0
    last_class = ccc.get(cps[0], 0)
    if last_class != 0:
        last_class = 256  # no starter yet: nothing composes with it
    comp_pos = 1
    for decomp_pos in range(1, len(cps)):
        ch = cps[decomp_pos]
        ch_class = ccc.get(ch, 0)
        composite = _compose_pair(cps[starter_pos], ch)
        if composite is not None and (last_class < ch_class or last_class == 0):
            cps[starter_pos] = composite
            continue
        if ch_class == 0:
            starter_pos = comp_pos
        last_class = ch_class
        cps[comp_pos] = ch
        comp_pos += 1
    del cps[comp_pos:]
    return cps


def nfkc_tables(text: str) -> str:
    """NFKC from the generated tables alone (pure Python, slower)."""
    cps = _decompose(text)
    _reorder(cps)
    return "".join(map(chr, _compose(cps)))


def _version_tuple(v: str):
    return tuple(int(x) for x in v.split("."))


_gap = None


def _gap_chars():
    """Characters this Python's unicodedata does not know but the tables give
    NFKC data (a decomposition, a combining class or a composition). By the
    Unicode normalization stability policy, text without them normalizes the
    same with either. None: unicodedata is newer than the tables, so it is
    never used."""
    global _gap
    if _gap is None:
        if _version_tuple(unicodedata.unidata_version) > _version_tuple(_ud.NFKC_UNICODE_VERSION):
            _gap = False
        else:
            cps = set(_ud.DECOMPOSITION) | set(_ud.CCC)
            for (a, b), c in _ud.COMPOSITION.items():
                cps.update((a, b, c))
            _gap = frozenset(chr(c) for c in cps if unicodedata.category(chr(c)) == "Cn")
    return _gap


def nfkc(text: str) -> str:
    """NFKC as the Rust normalization applies it (unicode-normalization's
    tables)."""
    if text.isascii():
        return text
    gap = _gap_chars()
    if gap is False or not gap.isdisjoint(text):
        return nfkc_tables(text)
    return unicodedata.normalize("NFKC", text)


# ---------------------------------------------------------------- normalize


def lowercase(text: str) -> str:
    """Rust's char::to_lowercase applied to every character (context-free)."""
    return text.translate(_LOWER)


def _round(text: str, version: int) -> str:
    words = _WORD_V2 if version == V2 else _WORD_V1
    return " ".join(words.findall(lowercase(nfkc(text))))


def normalize(text: str, version: int = V1) -> str:
    """Normalizes `text` with normalization version 1 or 2 (provindex's
    ``normalize_with``)."""
    if version not in VERSIONS:
        raise ValueError(f"normalization version {version} is not supported (1 and 2 are)")
    out = _round(text, version)
    for _ in range(2):
        if out.isascii() or nfkc(out) == out:
            break
        again = _round(out, version)
        if again == out:
            break
        out = again
    return out


def content_id(normalized: str) -> int:
    """content_id of a normalized text: xxh3-128 of its UTF-8 bytes."""
    return xxhash.xxh3_128_intdigest(normalized.encode("utf-8"))


def content_id_hex(normalized: str) -> str:
    """content_id as 32 lowercase hex digits (provindex's text form)."""
    return "%032x" % content_id(normalized)


def sha256(normalized: str) -> bytes:
    """SHA-256 of the UTF-8 bytes of a normalized text."""
    return hashlib.sha256(normalized.encode("utf-8")).digest()


# Rust's char::is_whitespace (Unicode White_Space); Python's str.split also
# splits at U+001C..U+001F.
_NOT_WHITESPACE = re.compile(
    "[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)


def token_count(normalized: str) -> int:
    """Words of a normalized text (maximal runs of non-whitespace, as Rust's
    split_whitespace), saturating at 2**32 - 1. Version 2 text counts each
    character of a script written without spaces."""
    return min(sum(1 for _ in _NOT_WHITESPACE.finditer(normalized)), 0xFFFFFFFF)


def identity(text: str, version: int = V1):
    """(content_id hex, normalized text) of a raw text."""
    n = normalize(text, version)
    return content_id_hex(n), n
