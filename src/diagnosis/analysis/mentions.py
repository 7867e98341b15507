"""Finding tracked brands in a normalised answer: where each mention is and whose it is.

Latin names match on word boundaries, CJK names as substrings, the longest match wins on
overlaps; a name inside a URL is not a mention (the URL is a source). Works on
`text.normalize` output only; must never do I/O or judge tone. All one-word spellings of a
brand list are found in one pass of an Aho-Corasick automaton, built once per brand list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, NamedTuple

import ahocorasick_rs

from diagnosis.analysis.schemas import BrandSpec
from diagnosis.analysis.sources import url_spans
from diagnosis.analysis.text import normalize


class Mention(NamedTuple):  # a tuple, not a frozen dataclass: one per mention, built per answer
    """One mention: the index of its brand in the request's brand list and its span."""

    brand: int
    start: int
    end: int


# Mention(...) runs NamedTuple's Python-level __new__; tuple.__new__ builds the same tuple
# without it, once per candidate of every answer. (A Mention stays a tuple: mentions are sorted,
# hashed and compared as tuples all through the analysis.)
_new_mention = tuple.__new__


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
_WORD: Final = r"[0-9a-z_\u00b5\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff]"


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


_WORD_CHAR: Final = re.compile(_WORD)

# A spelling the automaton finds: its brands (in request order), and whether each end must sit
# on a word boundary (a Latin-ended side).
_Entry = tuple[tuple[int, ...], bool, bool]


@dataclass(frozen=True, slots=True)
class _Matcher:
    automaton: ahocorasick_rs.AhoCorasick | None  # one-word spellings, every occurrence
    entries: tuple[_Entry, ...]  # by the automaton's pattern index
    patterns: tuple[tuple[int, re.Pattern[str]], ...]  # spellings with inner whitespace


@lru_cache(maxsize=64)
def _matcher(brands: tuple[BrandSpec, ...]) -> _Matcher:
    owners: dict[str, list[int]] = {}
    patterns: list[tuple[int, re.Pattern[str]]] = []
    for index, brand in enumerate(brands):
        for spelling in dict.fromkeys(normalize(spelling).strip() for spelling in brand.names):
            if not spelling:
                continue
            if len(spelling.split()) > 1:  # inner whitespace matches any run of it: a regex
                pattern = _pattern(spelling)
                if pattern is not None:
                    patterns.append((index, pattern))
            elif index not in owners.setdefault(spelling, []):
                owners[spelling].append(index)
    if not owners:
        return _Matcher(None, (), tuple(patterns))
    entries = tuple(
        (tuple(indexes), is_word_char(spelling[0]), is_word_char(spelling[-1]))
        for spelling, indexes in owners.items()
    )
    # Overlapping matches: the longest-first choice below sees every candidate, as it did
    # with one regex per spelling.
    automaton = ahocorasick_rs.AhoCorasick(
        list(owners), matchkind=ahocorasick_rs.MATCHKIND_STANDARD
    )
    return _Matcher(automaton, entries, tuple(patterns))


def _candidates(text: str, brands: Sequence[BrandSpec]) -> list[Mention]:
    matcher = _matcher(tuple(brands))
    found: list[Mention] = []
    if matcher.automaton is not None:
        size = len(text)
        for spelling, start, end in matcher.automaton.find_matches_as_indexes(
            text, overlapping=True
        ):
            indexes, left, right = matcher.entries[spelling]
            # Latin ends on word boundaries: "nio" never inside "onion" or "union".
            if left and start > 0 and _WORD_CHAR.match(text, start - 1):
                continue
            if right and end < size and _WORD_CHAR.match(text, end):
                continue
            if len(indexes) == 1:  # most spellings name one brand: no generator for them
                found.append(_new_mention(Mention, (indexes[0], start, end)))
            else:
                found.extend(_new_mention(Mention, (index, start, end)) for index in indexes)
    for index, pattern in matcher.patterns:
        found.extend(
            _new_mention(Mention, (index, m.start(), m.end())) for m in pattern.finditer(text)
        )
    return found


def find_mentions(text: str, brands: Sequence[BrandSpec]) -> list[Mention]:
    """Non-overlapping mentions in text order; the longest candidate wins each overlap."""
    chosen: list[Mention] = []
    taken = bytearray(len(text))
    for start, end in url_spans(text):  # https://www.brand.com/... names a source
        taken[start:end] = b"\x01" * (end - start)
    by_length = sorted(
        _candidates(text, brands), key=lambda m: (m.start - m.end, m.start, m.brand)
    )
    for mention in by_length:
        if taken.find(1, mention.start, mention.end) != -1:  # any byte taken, without a copy
            continue
        taken[mention.start : mention.end] = b"\x01" * (mention.end - mention.start)
        chosen.append(mention)
    return sorted(chosen, key=lambda m: m.start)
