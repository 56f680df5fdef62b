#!/usr/bin/env python3
"""Write langid.py's published language model as provindex's compact model file.

The model is the one Lui & Baldwin ("langid.py: An Off-the-shelf Language
Identification Tool", ACL 2012) published with langid.py 1.1.6 (BSD,
Copyright 2011 Marco Lui): 97 languages, 7,480 byte n-gram features (1-4 bytes),
naive Bayes log-probabilities. langid.py ships it as a base64 bz2 pickle of
(nb_ptc, nb_pc, nb_classes, tk_nextmove, tk_output), where the features exist
only as an Aho-Corasick automaton (tk_nextmove, tk_output). This script
recovers each feature's byte string from the automaton (the shortest path to a
state that emits it), checks that the strings give back exactly the automaton's
outputs, and writes (all little-endian):

    b"PXLANGID1\\n"                     magic
    u16 classes, u16 features, u32 palette
    classes x 2 bytes                  langid's ISO 639-1 codes, model order
    classes x f32                      nb_pc (log prior terms)
    palette x f32                      the distinct values of nb_ptc, ascending
    features x (u8 length, bytes)      feature byte strings, model order
    features x classes x u16           nb_ptc[feature][class] as a palette index

nb_ptc holds only ~48,000 distinct float32 values (a log-probability is a
function of a count per class), so the palette keeps every weight exact at
two bytes each. The output is a function of the model alone (deterministic).

Run (stdlib + numpy; langid.py is needed only to read its model):

    python3 -m venv /tmp/lang-venv
    /tmp/lang-venv/bin/pip install langid==1.1.6 numpy
    /tmp/lang-venv/bin/python crates/sketch/tools/langid_model.py crates/sketch/src/langid.model
"""

import struct
import sys
from collections import deque

import numpy as np
from langid.langid import LanguageIdentifier, model as MODEL_STRING

MAGIC = b"PXLANGID1\n"


def feature_strings(nextmove, output):
    """Byte string of every feature index, from the automaton."""
    states = len(nextmove) // 256
    path = {0: b""}
    queue = deque([0])
    while queue:  # breadth first: the first path to a state is its shortest
        state = queue.popleft()
        for byte in range(256):
            nxt = nextmove[(state << 8) + byte]
            if nxt not in path:
                path[nxt] = path[state] + bytes([byte])
                queue.append(nxt)
    if len(path) != states:
        raise SystemExit(f"automaton: {states - len(path)} unreachable states")
    feats = {}
    for state, emitted in output.items():
        for f in emitted:
            if f not in feats or len(path[state]) < len(feats[f]):
                feats[f] = path[state]
    if sorted(feats) != list(range(len(feats))):
        raise SystemExit("automaton: feature indexes are not 0..n-1")
    # The strings must reproduce the automaton: a state emits exactly the
    # features that are suffixes of its path.
    by_string = {s: f for f, s in feats.items()}
    if len(by_string) != len(feats):
        raise SystemExit("automaton: two features with one string")
    for state, p in path.items():
        want = sorted(by_string[p[i:]] for i in range(len(p)) if p[i:] in by_string)
        if want != sorted(output.get(state, ())):
            raise SystemExit(f"automaton: state {state} ({p!r}) emits {output.get(state)}, strings give {want}")
    return [feats[f] for f in range(len(feats))]


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: langid_model.py OUTPUT")
    ident = LanguageIdentifier.from_modelstring(MODEL_STRING)
    ptc = np.asarray(ident.nb_ptc, dtype=np.float32)
    pc = np.asarray(ident.nb_pc, dtype=np.float32)
    classes = [str(c) for c in ident.nb_classes]
    feats = feature_strings(ident.tk_nextmove, ident.tk_output)
    n_feats, n_classes = ptc.shape
    if n_feats != len(feats) or n_classes != len(classes) or pc.shape != (n_classes,):
        raise SystemExit(f"model shapes disagree: ptc {ptc.shape}, pc {pc.shape}, "
                         f"{len(classes)} classes, {len(feats)} features")
    if any(len(c) != 2 or not c.isascii() for c in classes):
        raise SystemExit(f"class codes are not two ASCII letters: {classes}")
    if any(not 1 <= len(f) <= 255 for f in feats):
        raise SystemExit("a feature string is empty or longer than 255 bytes")
    palette, index = np.unique(ptc, return_inverse=True)
    if len(palette) >= 1 << 16:
        raise SystemExit(f"{len(palette)} distinct weights do not fit a u16 index")
    index = index.reshape(ptc.shape).astype("<u2")
    if not np.array_equal(palette[index], ptc):
        raise SystemExit("palette does not reproduce nb_ptc")

    out = bytearray(MAGIC)
    out += struct.pack("<HHI", n_classes, n_feats, len(palette))
    out += "".join(classes).encode("ascii")
    out += pc.astype("<f4").tobytes()
    out += palette.astype("<f4").tobytes()
    for f in feats:
        out += bytes([len(f)]) + f
    out += index.tobytes()
    with open(sys.argv[1], "wb") as fh:
        fh.write(out)
    print(f"{sys.argv[1]}: {len(out)} bytes, {n_classes} classes, {n_feats} features, "
          f"{len(palette)} distinct weights")


if __name__ == "__main__":
    main()
