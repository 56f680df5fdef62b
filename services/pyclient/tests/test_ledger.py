"""Checks the verifier against trees built here from RFC 9162's recursive
definitions (python -m unittest discover -s tests, from services/pyclient)."""

import copy
import hashlib
import struct
import unittest

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from provindex_client import ledger


def mth(leaves):
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(m, leaves):
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def content_leaf(content_id, language="eng"):
    lang = language.encode()
    return (bytes([1]) + content_id.to_bytes(16, "big") + hashlib.sha256(bytes([content_id % 256])).digest()
            + struct.pack(">Q", 2) + (content_id // 2).to_bytes(16, "big") + bytes([1, 2])
            + struct.pack(">I", len(lang)) + lang)


def neighbor(leaves, i):
    return {"leaf": leaves[i].hex(), "leaf_index": i, "tree_size": len(leaves),
            "audit_path": [h.hex() for h in path(i, leaves)]}


class LedgerTest(unittest.TestCase):
    def setUp(self):
        self.ids = [10, 20, 30, 40, 50, 60, 70]
        self.leaves = [content_leaf(i) for i in self.ids]
        self.key = Ed25519PrivateKey.from_private_bytes(bytes([5]) * 32)
        self.public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        manifest = {
            "index_format_version": 3, "normalization_version": 2, "sketch_spec": "k=128",
            "content_count": len(self.leaves), "content_root": mth(self.leaves).hex(),
            "sha256_root": mth(self.leaves).hex(), "created_at": 1760000000,
            "base_version_digest": None, "index_digest": "ab" * 32,
        }
        message = ledger.SIGNATURE_DOMAIN + ledger.canonical_manifest_bytes(manifest)
        self.signed = {"format": ledger.SIGNED_MANIFEST_FORMAT, "manifest": manifest,
                       "public_key": self.public.hex(), "signature": self.key.sign(message).hex()}
        self.manifest = ledger.verify_signed_manifest(self.signed, self.public)

    def test_every_leaf_verifies_and_any_byte_change_fails(self):
        for i in range(len(self.leaves)):
            doc = dict(neighbor(self.leaves, i), format=ledger.INCLUSION_FORMAT, tree="content")
            facts = ledger.verify_inclusion(doc, self.manifest)
            self.assertEqual(int(facts["content_id"], 16), self.ids[i])
            self.assertEqual((facts["opt_out"], facts["keeper"]), ("reserved", True))
            raw = bytes.fromhex(doc["leaf"])
            for at in range(len(raw)):
                bad = dict(doc, leaf=(raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1:]).hex())
                with self.assertRaises(ledger.VerificationError):
                    ledger.verify_inclusion(bad, self.manifest)
            for j, h in enumerate(doc["audit_path"]):
                bad = copy.deepcopy(doc)
                bad["audit_path"][j] = ("0" if h[0] != "0" else "1") + h[1:]
                with self.assertRaises(ledger.VerificationError):
                    ledger.verify_inclusion(bad, self.manifest)

    def test_non_inclusion(self):
        def doc(key, pred, succ):
            return {"format": ledger.NON_INCLUSION_FORMAT, "tree": "content",
                    "key": key.to_bytes(16, "big").hex(), "tree_size": len(self.leaves),
                    "predecessor": None if pred is None else neighbor(self.leaves, pred),
                    "successor": None if succ is None else neighbor(self.leaves, succ)}
        ledger.verify_non_inclusion(doc(5, None, 0), self.manifest)
        ledger.verify_non_inclusion(doc(35, 2, 3), self.manifest)
        ledger.verify_non_inclusion(doc(71, 6, None), self.manifest)
        for forged in [doc(30, 2, 3), doc(30, 1, 2), doc(35, 1, 3), doc(35, 2, None),
                       doc(35, None, 3), doc(35, None, None), doc(80, 5, None)]:
            with self.assertRaises(ledger.VerificationError):
                ledger.verify_non_inclusion(forged, self.manifest)

    def test_manifest_tampering_fails(self):
        for field, value in [("content_count", 8), ("sketch_spec", "k=129"),
                             ("base_version_digest", "00" * 32), ("created_at", 1760000001)]:
            bad = copy.deepcopy(self.signed)
            bad["manifest"][field] = value
            with self.assertRaises(ledger.VerificationError):
                ledger.verify_signed_manifest(bad, self.public)
        other = Ed25519PrivateKey.from_private_bytes(bytes([6]) * 32).public_key()
        with self.assertRaises(ledger.VerificationError):
            ledger.verify_signed_manifest(
                self.signed, other.public_bytes(Encoding.Raw, PublicFormat.Raw))


if __name__ == "__main__":
    unittest.main()
