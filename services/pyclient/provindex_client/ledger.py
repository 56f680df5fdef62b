"""Independent verifier of provindex ledger documents (issue 18).

Written from the format description (crates/ledger/src/lib.rs), not from the
Rust code, so that a bug in one is caught by the other. It checks:

- a signed ledger manifest: the canonical bytes are rebuilt from the JSON
  fields, and the Ed25519 signature over
  b"provindex-ledger-manifest-v1\\0" + canonical bytes must verify under a
  public key the caller trusts;
- an inclusion proof: RFC 9162 section 2.1.3.2 audit path verification of
  SHA-256(0x00 + leaf) against the manifest's content_root or sha256_root,
  with tree size content_count;
- a non-inclusion proof: both neighbours included, adjacent (or at an
  edge, or an empty tree) and bracketing the absent key.

For a partitioned index (issue 17) the manifest is a signed publication
(b"provindex-ledger-publication-manifest-v1\\0"), listing the SHA-256 of
every partition manifest's canonical bytes; each proof is a partitioned
proof whose parts carry their partition's signed manifest
(b"provindex-ledger-partition-manifest-v1\\0"). A part counts only when
its manifest is signed by the trusted key, listed at its place, covers its
place's chunks of the content_id's first byte and agrees with the
publication; inclusion needs the leaf's content_id in those chunks,
content_id absence needs the id's first byte in them, SHA-256 absence needs
a part for every partition.

Usage: python -m provindex_client.ledger --manifest M.json --public-key HEX
       [PROOF.json ...]   (exit status 0 only if every document verifies)
"""

import argparse
import hashlib
import json
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

SIGNATURE_DOMAIN = b"provindex-ledger-manifest-v1\x00"
SIGNED_MANIFEST_FORMAT = "provindex-ledger-signed-manifest-v1"
PARTITION_SIGNATURE_DOMAIN = b"provindex-ledger-partition-manifest-v1\x00"
PUBLICATION_SIGNATURE_DOMAIN = b"provindex-ledger-publication-manifest-v1\x00"
SIGNED_PARTITION_FORMAT = "provindex-ledger-signed-partition-manifest-v1"
SIGNED_PUBLICATION_FORMAT = "provindex-ledger-signed-publication-v1"
PARTITIONED_PROOF_FORMAT = "provindex-ledger-partitioned-proof-v1"
CHUNKS = 256
INCLUSION_FORMAT = "provindex-ledger-inclusion-v1"
NON_INCLUSION_FORMAT = "provindex-ledger-non-inclusion-v1"
LEAF_FORMAT_VERSION = 1
MANIFEST_FORMAT_VERSION = 1
EMPTY_ROOT = hashlib.sha256(b"").digest()
OPT_OUT = {0: "unknown", 1: "not_reserved", 2: "reserved"}

MANIFEST_FIELDS = {
    "index_format_version", "normalization_version", "sketch_spec",
    "content_count", "content_root", "sha256_root", "created_at",
    "base_version_digest", "index_digest",
}
NEIGHBOR_FIELDS = {"leaf", "leaf_index", "tree_size", "audit_path"}


class VerificationError(Exception):
    """A document is malformed or does not verify; the message says which check."""


def leaf_hash(leaf):
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def _hex(value, field, length=None):
    if not isinstance(value, str) or value != value.lower():
        raise VerificationError(f"{field}: not lowercase hex")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raise VerificationError(f"{field}: not hex") from None
    if length is not None and len(raw) != length:
        raise VerificationError(f"{field}: {len(raw)} bytes, expected {length}")
    return raw


def _uint(value, field, bits=64):
    if type(value) is not int or not 0 <= value < 2**bits:
        raise VerificationError(f"{field}: not a u{bits}")
    return value


def _fields(doc, expected, what):
    if not isinstance(doc, dict) or set(doc) != expected:
        raise VerificationError(f"{what}: fields must be exactly {sorted(expected)}")


def decode_content_leaf(leaf):
    """The content tree leaf: version, content_id, sha256, capture_count,
    cluster_id, keeper, opt-out verdict, u32-length-prefixed language."""
    head = 1 + 16 + 32 + 8 + 16 + 1 + 1 + 4
    if len(leaf) < head:
        raise VerificationError("content leaf too short")
    if leaf[0] != LEAF_FORMAT_VERSION:
        raise VerificationError(f"unknown leaf format version {leaf[0]}")
    content_id = leaf[1:17]
    sha256 = leaf[17:49]
    (capture_count,) = struct.unpack(">Q", leaf[49:57])
    cluster_id = leaf[57:73]
    keeper, opt_out = leaf[73], leaf[74]
    (length,) = struct.unpack(">I", leaf[75:79])
    if keeper not in (0, 1):
        raise VerificationError("keeper flag is neither 0 nor 1")
    if opt_out not in OPT_OUT:
        raise VerificationError("unknown opt-out verdict")
    if len(leaf) - head != length:
        raise VerificationError("language length does not match the leaf")
    try:
        language = leaf[head:].decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError("language is not UTF-8") from None
    return {
        "key": content_id,
        "content_id": content_id.hex(),
        "sha256": sha256.hex(),
        "capture_count": capture_count,
        "cluster_id": cluster_id.hex(),
        "keeper": keeper == 1,
        "opt_out": OPT_OUT[opt_out],
        "language": language,
    }


def decode_sha_leaf(leaf):
    """The SHA-256 tree leaf: version, sha256, content_id (49 bytes)."""
    if len(leaf) != 49:
        raise VerificationError("sha256 leaf is not 49 bytes")
    if leaf[0] != LEAF_FORMAT_VERSION:
        raise VerificationError(f"unknown leaf format version {leaf[0]}")
    return {"key": leaf[1:33], "sha256": leaf[1:33].hex(), "content_id": leaf[33:].hex()}


TREES = {
    # tree name -> (manifest root field, key length, leaf decoder)
    "content": ("content_root", 16, decode_content_leaf),
    "sha256": ("sha256_root", 32, decode_sha_leaf),
}


def root_from_audit_path(leaf_digest, index, size, path):
    """RFC 9162 section 2.1.3.2, step by step."""
    if index >= size:
        raise VerificationError(f"leaf index {index} outside a tree of {size}")
    fn, sn, r = index, size - 1, leaf_digest
    for p in path:
        if sn == 0:
            raise VerificationError("audit path too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("audit path too short")
    return r


def canonical_manifest_bytes(m):
    """The manifest's canonical bytes, rebuilt from its JSON fields."""
    _fields(m, MANIFEST_FIELDS, "manifest")
    spec = m["sketch_spec"]
    if not isinstance(spec, str):
        raise VerificationError("sketch_spec: not a string")
    spec = spec.encode("utf-8")
    created = m["created_at"]
    if type(created) is not int or not -(2**63) <= created < 2**63:
        raise VerificationError("created_at: not an i64")
    out = bytes([MANIFEST_FORMAT_VERSION])
    out += struct.pack(">I", _uint(m["index_format_version"], "index_format_version", 32))
    out += struct.pack(">I", _uint(m["normalization_version"], "normalization_version", 32))
    out += struct.pack(">I", len(spec)) + spec
    out += struct.pack(">Q", _uint(m["content_count"], "content_count"))
    out += _hex(m["content_root"], "content_root", 32)
    out += _hex(m["sha256_root"], "sha256_root", 32)
    out += struct.pack(">q", created)
    base = m["base_version_digest"]
    out += b"\x00" if base is None else b"\x01" + _hex(base, "base_version_digest", 32)
    out += _hex(m["index_digest"], "index_digest", 32)
    return out


def manifest_digest(m):
    return hashlib.sha256(canonical_manifest_bytes(m)).digest()


def verify_signed_manifest(doc, trusted_public_key):
    """Returns the manifest fields once `trusted_public_key` (32 bytes) is
    shown to have signed them."""
    _fields(doc, {"format", "manifest", "public_key", "signature"}, "signed manifest")
    if doc["format"] != SIGNED_MANIFEST_FORMAT:
        raise VerificationError(f"format {doc['format']!r} is not a signed manifest")
    public_key = _hex(doc["public_key"], "public_key", 32)
    signature = _hex(doc["signature"], "signature", 64)
    if public_key != trusted_public_key:
        raise VerificationError("manifest is signed by a key that is not the trusted one")
    message = SIGNATURE_DOMAIN + canonical_manifest_bytes(doc["manifest"])
    try:
        Ed25519PublicKey.from_public_bytes(trusted_public_key).verify(signature, message)
    except InvalidSignature:
        raise VerificationError("manifest signature does not verify") from None
    return doc["manifest"]


def _check_leaf(neighbor, tree, manifest):
    """Verifies one leaf's audit path against the manifest; returns the decoded leaf."""
    root_field, _, decode = TREES[tree]
    size = manifest["content_count"]
    index = _uint(neighbor["leaf_index"], "leaf_index")
    if _uint(neighbor["tree_size"], "tree_size") != size:
        raise VerificationError("proof's tree size is not the manifest's content_count")
    if not isinstance(neighbor["audit_path"], list):
        raise VerificationError("audit_path: not a list")
    leaf = _hex(neighbor["leaf"], "leaf")
    path = [_hex(h, "audit_path", 32) for h in neighbor["audit_path"]]
    root = root_from_audit_path(leaf_hash(leaf), index, size, path)
    if root != bytes.fromhex(manifest[root_field]):
        raise VerificationError("computed root is not the manifest's root")
    facts = decode(leaf)
    facts["leaf_index"] = index
    return facts


def _tree(doc):
    tree = doc["tree"]
    if tree not in TREES:
        raise VerificationError(f"unknown tree {tree!r}")
    return tree


def verify_inclusion(doc, manifest):
    """Returns the included leaf's decoded fields."""
    _fields(doc, {"format", "tree"} | NEIGHBOR_FIELDS, "inclusion proof")
    if doc["format"] != INCLUSION_FORMAT:
        raise VerificationError(f"format {doc['format']!r} is not an inclusion proof")
    return _check_leaf(doc, _tree(doc), manifest)


def verify_non_inclusion(doc, manifest):
    """Returns the absent key (bytes) once it is shown absent."""
    fields = {"format", "tree", "key", "tree_size", "predecessor", "successor"}
    _fields(doc, fields, "non-inclusion proof")
    if doc["format"] != NON_INCLUSION_FORMAT:
        raise VerificationError(f"format {doc['format']!r} is not a non-inclusion proof")
    tree = _tree(doc)
    key = _hex(doc["key"], "key", TREES[tree][1])
    size = manifest["content_count"]
    if _uint(doc["tree_size"], "tree_size") != size:
        raise VerificationError("proof's tree size is not the manifest's content_count")
    sides = {}
    for side in ("predecessor", "successor"):
        if doc[side] is not None:
            _fields(doc[side], NEIGHBOR_FIELDS, side)
            try:
                sides[side] = _check_leaf(doc[side], tree, manifest)
            except VerificationError as e:
                raise VerificationError(f"{side}: {e}") from None
    pred, succ = sides.get("predecessor"), sides.get("successor")
    if pred is None and succ is None:
        if size != 0:
            raise VerificationError("no neighbours, but the tree is not empty")
        if bytes.fromhex(manifest[TREES[tree][0]]) != EMPTY_ROOT:
            raise VerificationError("empty tree whose root is not SHA-256('')")
        return key
    if pred is not None and not pred["key"] < key:
        raise VerificationError("predecessor's key is not below the key")
    if succ is not None and not key < succ["key"]:
        raise VerificationError("successor's key is not above the key")
    if pred is not None and succ is not None:
        if succ["leaf_index"] != pred["leaf_index"] + 1:
            raise VerificationError("neighbours are not adjacent leaves")
    elif pred is None:
        if succ["leaf_index"] != 0:
            raise VerificationError("no predecessor, but the successor is not leaf 0")
    elif pred["leaf_index"] != size - 1:
        raise VerificationError("no successor, but the predecessor is not the last leaf")
    return key


def verify_document(doc, manifest):
    """Verifies a proof document of either kind; returns a one-line summary."""
    if not isinstance(doc, dict):
        raise VerificationError("not a JSON object")
    kind = doc.get("format")
    if kind == INCLUSION_FORMAT:
        facts = verify_inclusion(doc, manifest)
        return f"included in the {doc['tree']} tree at leaf {facts['leaf_index']}"
    if kind == NON_INCLUSION_FORMAT:
        key = verify_non_inclusion(doc, manifest)
        return f"{key.hex()} absent from the {doc['tree']} tree"
    raise VerificationError(f"unknown document format {kind!r}")


def _ed25519(public_key, trusted_public_key, signature, message, what):
    if public_key != trusted_public_key:
        raise VerificationError(f"{what} is signed by a key that is not the trusted one")
    try:
        Ed25519PublicKey.from_public_bytes(trusted_public_key).verify(signature, message)
    except InvalidSignature:
        raise VerificationError(f"{what} signature does not verify") from None


PUBLICATION_FIELDS = {
    "index_format_version", "normalization_version", "sketch_spec",
    "content_count", "created_at", "base_version_digest", "index_digest",
    "partitions",
}


def verify_signed_publication(doc, trusted_public_key):
    """The publication's fields once the trusted key is shown to have signed
    them; "partitions" becomes a list of 32-byte digests."""
    _fields(doc, {"format", "publication", "public_key", "signature"}, "signed publication")
    if doc["format"] != SIGNED_PUBLICATION_FORMAT:
        raise VerificationError(f"format {doc['format']!r} is not a signed publication")
    pub = doc["publication"]
    _fields(pub, PUBLICATION_FIELDS, "publication")
    if not isinstance(pub["partitions"], list):
        raise VerificationError("partitions: not a list")
    digests = [_hex(d, "partitions", 32) for d in pub["partitions"]]
    # The manifest encoding up to created_at, the base and index digest,
    # then the partition count and digests (no roots: they are per partition).
    spec = pub["sketch_spec"]
    if not isinstance(spec, str):
        raise VerificationError("sketch_spec: not a string")
    created = pub["created_at"]
    if type(created) is not int or not -(2**63) <= created < 2**63:
        raise VerificationError("created_at: not an i64")
    message = bytes([1])
    message += struct.pack(">II", _uint(pub["index_format_version"], "index_format_version", 32),
                           _uint(pub["normalization_version"], "normalization_version", 32))
    message += struct.pack(">I", len(spec.encode("utf-8"))) + spec.encode("utf-8")
    message += struct.pack(">Qq", _uint(pub["content_count"], "content_count"), created)
    base = pub["base_version_digest"]
    message += b"\x00" if base is None else b"\x01" + _hex(base, "base_version_digest", 32)
    message += _hex(pub["index_digest"], "index_digest", 32)
    message += struct.pack(">I", len(digests)) + b"".join(digests)
    _ed25519(_hex(doc["public_key"], "public_key", 32), trusted_public_key,
             _hex(doc["signature"], "signature", 64), PUBLICATION_SIGNATURE_DOMAIN + message,
             "publication")
    result = dict(pub)
    result["partitions"] = digests
    result["digest"] = hashlib.sha256(message).digest()
    return result


def verify_partition_manifest(doc, publication, trusted_public_key):
    """A part's partition manifest: signed by the trusted key, listed by the
    publication at its place, with its place's chunks. Returns (partition,
    first chunk, end chunk, manifest fields)."""
    fields = {"format", "partition", "partition_count", "chunk_start", "chunk_end",
              "manifest", "public_key", "signature"}
    _fields(doc, fields, "partition manifest")
    if doc["format"] != SIGNED_PARTITION_FORMAT:
        raise VerificationError(f"format {doc['format']!r} is not a signed partition manifest")
    p = _uint(doc["partition"], "partition", 32)
    count = _uint(doc["partition_count"], "partition_count", 32)
    start = _uint(doc["chunk_start"], "chunk_start", 32)
    end = _uint(doc["chunk_end"], "chunk_end", 32)
    message = bytes([1]) + struct.pack(">IIII", p, count, start, end)
    message += canonical_manifest_bytes(doc["manifest"])
    _ed25519(_hex(doc["public_key"], "public_key", 32), trusted_public_key,
             _hex(doc["signature"], "signature", 64), PARTITION_SIGNATURE_DOMAIN + message,
             f"partition {p} manifest")
    listed = publication["partitions"]
    if count != len(listed) or p >= count:
        raise VerificationError(
            f"partition {p} of {count} is not a place in a publication of {len(listed)}")
    if hashlib.sha256(message).digest() != listed[p]:
        raise VerificationError(
            f"partition {p} manifest is not the one the publication lists "
            "(another partition's or publication's)")
    if count & (count - 1) or count > CHUNKS:
        raise VerificationError(f"partition count {count} is not a power of two up to 256")
    width = CHUNKS // count
    if (start, end) != (p * width, (p + 1) * width):
        raise VerificationError(f"partition {p} claims chunks [{start}, {end}), not its own")
    m = doc["manifest"]
    for field in ("index_format_version", "normalization_version", "sketch_spec", "created_at"):
        if m[field] != publication[field]:
            raise VerificationError(f"partition {p}: {field} differs from the publication's")
    return p, start, end, m


def verify_partitioned(doc, publication, trusted_public_key):
    """A partitioned proof against a verified publication; a one-line summary."""
    _fields(doc, {"format", "parts"}, "partitioned proof")
    if doc["format"] != PARTITIONED_PROOF_FORMAT:
        raise VerificationError(f"format {doc['format']!r} is not a partitioned proof")
    parts = doc["parts"]
    if not isinstance(parts, list) or not parts:
        raise VerificationError("parts: not a non-empty list")
    checked = []
    for part in parts:
        _fields(part, {"partition_manifest", "proof"}, "part")
        p, start, end, manifest = verify_partition_manifest(
            part["partition_manifest"], publication, trusted_public_key)
        if not isinstance(part["proof"], dict):
            raise VerificationError(f"partition {p}: proof is not an object")
        checked.append((p, start, end, manifest, part["proof"]))
    kinds = {c[4].get("format") for c in checked}
    if len(kinds) != 1:
        raise VerificationError("parts mix proof kinds")
    kind = kinds.pop()
    if kind == INCLUSION_FORMAT:
        if len(checked) != 1:
            raise VerificationError("an inclusion proof must have exactly one part")
        p, start, end, manifest, proof = checked[0]
        try:
            facts = verify_inclusion(proof, manifest)
        except VerificationError as e:
            raise VerificationError(f"partition {p}: {e}") from None
        first_byte = bytes.fromhex(facts["content_id"])[0]
        if not start <= first_byte < end:
            raise VerificationError(
                f"partition {p}: included content is outside its chunks [{start}, {end})")
        return (f"included in the {proof['tree']} tree of partition {p} "
                f"at leaf {facts['leaf_index']}")
    if kind == NON_INCLUSION_FORMAT:
        keys = set()
        for p, _, _, manifest, proof in checked:
            try:
                keys.add((proof["tree"], verify_non_inclusion(proof, manifest)))
            except VerificationError as e:
                raise VerificationError(f"partition {p}: {e}") from None
        if len(keys) != 1:
            raise VerificationError("parts prove the absence of different keys")
        tree, key = keys.pop()
        places = [c[0] for c in checked]
        if tree == "content":
            if len(checked) != 1:
                raise VerificationError("content_id absence must have exactly one part")
            p, start, end = checked[0][:3]
            if not start <= key[0] < end:
                raise VerificationError(
                    f"the id's first byte {key[0]} is outside partition {p}'s chunks "
                    f"[{start}, {end}): its absence there proves nothing")
        elif places != list(range(len(publication["partitions"]))):
            raise VerificationError(
                f"SHA-256 absence needs a part for every partition in order, has {places}")
        return f"{key.hex()} absent from the {tree} tree (partitions {places})"
    raise VerificationError(f"unknown inner proof format {kind!r}")


def _load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise VerificationError(f"cannot read {path}: {e}") from None


def _signed_digest(doc, trusted_public_key):
    """The digest of a signed manifest of either kind, once its signature
    by the trusted key is checked."""
    if isinstance(doc, dict) and doc.get("format") == SIGNED_PUBLICATION_FORMAT:
        return verify_signed_publication(doc, trusted_public_key)["digest"]
    return manifest_digest(verify_signed_manifest(doc, trusted_public_key))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--manifest", required=True, help="signed manifest JSON")
    parser.add_argument("--public-key", required=True,
                        help="trusted Ed25519 public key: 64 hex digits, or @FILE")
    parser.add_argument("--base-manifest",
                        help="signed manifest of the version --manifest names as its base")
    parser.add_argument("proofs", nargs="*", help="inclusion / non-inclusion proof JSON files")
    args = parser.parse_args(argv)
    key_text = args.public_key
    if key_text.startswith("@"):
        with open(key_text[1:], encoding="utf-8") as f:
            key_text = f.read().strip()
    failed = False
    publication = None
    try:
        trusted = _hex(key_text, "public key", 32)
        doc = _load(args.manifest)
        if isinstance(doc, dict) and doc.get("format") == SIGNED_PUBLICATION_FORMAT:
            publication = verify_signed_publication(doc, trusted)
            print(f"ok {args.manifest}: publication manifest of "
                  f"{publication['content_count']} contents in "
                  f"{len(publication['partitions'])} partitions, "
                  f"digest {publication['digest'].hex()}")
        else:
            manifest = verify_signed_manifest(doc, trusted)
            print(f"ok {args.manifest}: manifest of {manifest['content_count']} contents, "
                  f"digest {manifest_digest(manifest).hex()}")
    except VerificationError as e:
        print(f"FAIL {args.manifest}: {e}")
        return 1
    if args.base_manifest is not None:
        named = (publication or manifest)["base_version_digest"]
        try:
            digest = _signed_digest(_load(args.base_manifest), trusted)
            if named is None:
                raise VerificationError(
                    "the manifest names no base version (base_version_digest is null)")
            if digest != _hex(named, "base_version_digest", 32):
                raise VerificationError(
                    f"digest {digest.hex()} is not the manifest's base_version_digest {named}")
            print(f"ok {args.base_manifest}: base version of the manifest, digest {digest.hex()}")
        except VerificationError as e:
            print(f"FAIL {args.base_manifest}: {e}")
            failed = True
    for path in args.proofs:
        try:
            if publication is not None:
                summary = verify_partitioned(_load(path), publication, trusted)
            else:
                summary = verify_document(_load(path), manifest)
            print(f"ok {path}: {summary}")
        except VerificationError as e:
            print(f"FAIL {path}: {e}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
