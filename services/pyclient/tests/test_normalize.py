"""The pure-Python normalization against the examples and rules of
crates/sketch/src/normalize.rs (python -m pytest tests, from services/pyclient;
tests/e2e_pyclient.rs also checks it against the Rust code on every code
point and on real crawls). Skipped where xxhash is not installed (the ledger
verifier's venv)."""

import unicodedata
import unittest

try:
    import xxhash  # noqa: F401
except ImportError:  # pragma: no cover
    raise unittest.SkipTest("xxhash is not installed (pip install services/pyclient)")

from provindex_client import normalize as n
from provindex_client import _unicode_data as ud


class Examples(unittest.TestCase):
    def test_documented_examples_v1(self):
        for raw, want in [
            ("Hello, World!", "hello world"),
            ("don't", "don t"),
            ("\ufb01nancial \uff21\uff22\uff23", "financial abc"),
            ("e-mail\t\n  x", "e mail x"),
            ("", ""),
            ("  ,,, ", ""),
        ]:
            self.assertEqual(n.normalize(raw, n.V1), want, raw)

    def test_documented_example_v2(self):
        self.assertEqual(n.normalize("用Rust写的ＡＰＩ，版本2.0", n.V2), "用 rust 写 的 api 版 本 2 0")
        self.assertEqual(n.normalize("用Rust写的ＡＰＩ，版本2.0", n.V1), "用rust写的api 版本2 0")

    def test_lowercase_is_context_free(self):
        # Python's str.lower gives a final sigma here; Rust's to_lowercase does not.
        self.assertEqual("ΣΑΣ".lower(), "σας")
        self.assertEqual(n.normalize("ΣΑΣ"), "σασ")
        self.assertEqual(n.normalize("İ"), "i\u0307")

    def test_alphanumeric_is_rusts(self):
        # Devanagari vowel signs are Alphabetic marks: one word, as in Rust;
        # Python's isalnum says no to them.
        self.assertFalse("\u093e".isalnum())
        self.assertEqual(n.normalize("नमस्ते दुनिया"), "नमस्ते दुनिया")
        # Circled letters are Alphabetic (So), NFKC folds them anyway.
        self.assertEqual(n.normalize("Ⓐ"), "a")
        # A mark not attached to a word is a separator.
        self.assertEqual(n.normalize("\u0301x \u0301"), "x")

    def test_v2_scripts(self):
        # Kana, the prolonged sound mark (Script_Extensions), Thai with its
        # marks, Korean stays whole, Tibetan's tsheg separates.
        self.assertEqual(n.normalize("コーヒーを飲む", n.V2), "コ ー ヒ ー を 飲 む")
        self.assertEqual(n.normalize("ภาษาไทย", n.V2), "ภ า ษ า ไ ท ย")
        self.assertEqual(n.normalize("ที่นี่", n.V2), "ที่ นี่")
        self.assertEqual(n.normalize("한국어 텍스트", n.V2), "한국어 텍스트")
        self.assertEqual(n.normalize("བོད་ཡིག", n.V2), "བོད ཡིག")

    def test_idempotent(self):
        for raw in ["Hello, World!", "用Rust写的ＡＰＩ，版本2.0", "ΣΑΣ İ ﬁ ① ²", "ภาษาไทย ที่นี่", "a\u0301\u0327"]:
            for v in n.VERSIONS:
                once = n.normalize(raw, v)
                self.assertEqual(n.normalize(once, v), once, (raw, v))

    def test_bad_version(self):
        with self.assertRaises(ValueError):
            n.normalize("x", 3)


class Identity(unittest.TestCase):
    def test_content_id(self):
        # xxh3-128 of the empty string (the reference value of the algorithm).
        self.assertEqual(n.content_id_hex(""), "99aa06d3014798d86001c324468d497f")
        self.assertEqual(len(n.content_id_hex("hello world")), 32)
        self.assertEqual(n.content_id("hello world"), int(n.content_id_hex("hello world"), 16))
        cid, text = n.identity("Hello, World!")
        self.assertEqual((cid, text), (n.content_id_hex("hello world"), "hello world"))

    def test_token_count(self):
        self.assertEqual(n.token_count(n.normalize("用Rust写的ＡＰＩ，版本2.0", n.V2)), 9)
        self.assertEqual(n.token_count(""), 0)
        # U+001C is not Unicode White_Space (Python's str.split splits there).
        self.assertEqual(n.token_count("a\x1cb c"), 2)


class Tables(unittest.TestCase):
    def test_pure_nfkc_equals_unicodedata_where_python_knows_the_characters(self):
        checked = 0
        for cp in range(0x110000):
            c = chr(cp)
            if unicodedata.category(c) in ("Cn", "Cs"):
                continue
            for text in (c, "a" + c + "\u0301", c + "\u0308\u0323"):
                self.assertEqual(n.nfkc_tables(text), unicodedata.normalize("NFKC", text), hex(cp))
            checked += 1
        self.assertGreater(checked, 140000)

    def test_tables_are_rusts_not_pythons(self):
        # Sanity of the generated tables: sizes and a few known entries.
        self.assertTrue(any(a <= 0x93E <= b for a, b in ud.ALPHANUMERIC))  # a Devanagari vowel sign
        self.assertFalse(any(a <= 0x2C <= b for a, b in ud.ALPHANUMERIC))  # ','
        self.assertEqual(ud.LOWER[0x3A3], "\u03c3")
        self.assertEqual(ud.LOWER[0x130], "i\u0307")
        self.assertEqual(ud.DECOMPOSITION[0xFB01], "fi")
        self.assertEqual(ud.COMPOSITION[(0x65, 0x301)], 0xE9)
        self.assertGreater(len(ud.NO_SPACE), 50)


if __name__ == "__main__":
    unittest.main()
