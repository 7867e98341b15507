"""Finding tracked brands in a normalised answer: where each mention is and whose it is.

Latin names match on word boundaries, CJK names as substrings, the longest match wins on
overlaps; a name inside a URL is not a mention (the URL is a source). Works on
`text.normalize` output only; must never do I/O or judge tone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from diagnosis.analysis.schemas import BrandSpec
from diagnosis.analysis.sources import url_spans
from diagnosis.analysis.text import normalize


@dataclass(frozen=True, slots=True)
class Mention:
    """One mention: the index of its brand in the request's brand list and its span."""

    brand: int
    start: int
    end: int


def is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FA1F
    )


def is_word_char(char: str) -> bool:
    """A Latin-script word character: letters and digits that are not CJK.

    CJK characters next to a Latin name count as a boundary, so 选nio的 matches nio.
    """
    return (char.isalnum() or char == "_") and not is_cjk(char)


# Letters and digits of the Latin, Greek and Cyrillic scripts (after casefolding): the
# characters that glue onto a Latin name. CJK characters are deliberately absent.
_WORD = r"[0-9a-z_\u00b5\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]"


@lru_cache(maxsize=512)
def _pattern(name: str) -> re.Pattern[str] | None:
    """A regex for one normalised name; inner whitespace matches any run of whitespace."""
    words = name.split()
    if not words:
        return None
    body = r"\s+".join(re.escape(word) for word in words)
    # Boundaries only on a Latin-ended side: "nio" must not match inside "onion"/"union",
    # while a CJK name is a plain substring.
    left = f"(?<!{_WORD})" if is_word_char(words[0][0]) else ""
    right = f"(?!{_WORD})" if is_word_char(words[-1][-1]) else ""
    return re.compile(left + body + right)


def _candidates(text: str, brands: Sequence[BrandSpec]) -> list[Mention]:
    found: list[Mention] = []
    for index, brand in enumerate(brands):
        for spelling in {normalize(spelling).strip() for spelling in brand.names}:
            pattern = _pattern(spelling)
            if pattern is None:
                continue
            found.extend(Mention(index, m.start(), m.end()) for m in pattern.finditer(text))
    return found


def find_mentions(text: str, brands: Sequence[BrandSpec]) -> list[Mention]:
    """Non-overlapping mentions in text order; the longest candidate wins each overlap."""
    chosen: list[Mention] = []
    taken = bytearray(len(text))
    for start, end in url_spans(text):  # https://www.brand.com/... names a source
        taken[start:end] = b"\x01" * (end - start)
    by_length = sorted(_candidates(text, brands), key=lambda m: (m.start - m.end, m.start))
    for mention in by_length:
        if any(taken[mention.start : mention.end]):
            continue
        taken[mention.start : mention.end] = b"\x01" * (mention.end - mention.start)
        chosen.append(mention)
    return sorted(chosen, key=lambda m: m.start)
