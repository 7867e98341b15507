"""The analysis hot path's shortcuts give exactly what the plain definitions give (issue 13).

Each shortcut (normalisation without CPython's NFKC on every character, ...) is checked against
the definition it replaces, on inputs chosen to break it; no timings here.
"""

import random
import unicodedata

from diagnosis.analysis.text import _FULL_WIDTH, normalize

TRICKY = [
    "",
    "ＮＩＯ （1） １. 蔚来，理想：小鹏；好！吗？",
    "！\u0301 ，\u0308 \u3000\u0301 Ａ\u030a e\u0301 ﬁ ß İ Ǆ ½ ㈱ ℡ …",
    "\u1100\u1161\u11a8 가\u11a8 각",  # Hangul jamo compose across the replaced characters
    "（\u1161）\uff0c\u0338 <\u0338 =\u0338",
    "\u0915\u093c \u0b47\u0b3e \u0b47，\u0b56",
    "\ufeff\u200b\u00a0\u2026\u2014“”‘’•",
]


def test_normalize_is_nfkc_then_casefold_on_tricky_text() -> None:
    for text in TRICKY:
        assert normalize(text) == unicodedata.normalize("NFKC", text).casefold(), repr(text)


def test_normalize_is_nfkc_then_casefold_on_random_mixtures() -> None:
    # given an alphabet of full-width punctuation, combining marks, jamo and plain text
    alphabet = [char for char, _ in _FULL_WIDTH] + list(
        "a1 A,蔚来理想。\n\t\u0301\u0308\u0338\u302a\u3099\u1161\u11a8가ＮＩＯ①ﬁß…"
    )
    rng = random.Random(13)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12)))
        # then the shortcut agrees with the definition
        assert normalize(text) == unicodedata.normalize("NFKC", text).casefold(), repr(text)


def test_each_full_width_replacement_is_its_compatibility_decomposition() -> None:
    for char, replacement in _FULL_WIDTH:
        assert replacement == unicodedata.normalize("NFKD", char)
        assert len(replacement) == 1 and replacement.isascii()
