"""passages' fast paths give exactly what the plain definitions give.

A unit's contrast words are found in one scan of the unit, not one per piece; a comparison
window's hint is searched in place; `_HEAD_END` opens with one character class. Checked
against a copy of the definitions they replace, on inputs chosen to break them; no timings.
"""

import re
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import passages
from diagnosis.analysis.mentions import Mention
from diagnosis.analysis.text import matches

_PIECES = st.one_of(
    st.sampled_from(list("。!?\n.,;:：|-–— \t\r a1_é蔚从因反进然且言是而但比于对")),
    st.sampled_from(["but", "while", "whereas", "however", "although", "though", "xbut"]),
    st.sampled_from(["但是", "然而", "不过", "可是", "反而", "而且", "than", "vs.", "与", "相比"]),
    st.sampled_from(["but.", "而.", ". ", " - ", "\n- ", "1. ", "**"]),
)
_TEXTS = st.lists(_PIECES, max_size=24).map("".join)


def _reference_clauses(start: int, end: int, text: str) -> list[passages.Span]:
    """_clauses as first written: one contrast-word search per piece."""
    spans: list[passages.Span] = []
    for piece_start, piece_end in passages._pieces(
        start, end, text, passages._CLAUSE_PUNCTUATION
    ):
        cursor = piece_start
        for found in matches(passages._CLAUSE_WORD, text, piece_start, piece_end):
            if text[cursor : found.start()].strip():
                spans.append((cursor, found.start()))
                cursor = found.start()
        spans.append((cursor, piece_end))
    return spans


@settings(max_examples=1500, deadline=None)
@given(_TEXTS, st.integers(0, 30), st.integers(0, 80))
def test_one_contrast_word_scan_per_unit_cuts_the_clauses_of_one_scan_per_piece(
    text: str, start: int, end: int
) -> None:
    end = min(max(start, end), len(text))
    start = min(start, end)
    assert passages._clauses(start, end, text) == _reference_clauses(start, end, text)


def test_no_contrast_word_holds_a_separator_character() -> None:
    # What the one scan relies on: a contrast word never crosses a piece's end.
    for word in ("但是", "但", "然而", "不过", "可是", "反而", "而", "but", "while", "whereas",
                 "however", "although", "though"):
        assert not set(word) & set(",;。!?\n."), word
        assert passages._CLAUSE_WORD.fullmatch(f" {word} ", 1, 1 + len(word)), word


def _reference_objects(
    text: str, clause: passages.Span, inside: Sequence[Mention]
) -> set[Mention]:
    """_objects as first written: the window sliced and searched for its hint."""
    objects: set[Mention] = set()
    compared = [
        found.span("objects")
        for found in matches(passages._COMPARE_SPAN, text, clause[0], clause[1])
    ]
    previous: Mention | None = None
    for mention in inside:
        before = text[max(clause[0], mention.start - passages._OBJECT_WINDOW) : mention.start]
        if (
            (passages._OBJECT_HINT.search(before) and passages._OBJECT_BEFORE.search(before))
            or any(start <= mention.start and mention.end <= end for start, end in compared)
            or (
                previous in objects
                and previous is not None
                and passages._ENUMERATION.fullmatch(text[previous.end : mention.start])
            )
        ):
            objects.add(mention)
        previous = mention
    return objects


@settings(max_examples=1500, deadline=None)
@given(_TEXTS, st.integers(0, 30), st.lists(st.integers(0, 3), max_size=6))
def test_hint_searched_in_place_finds_the_yardsticks_of_the_sliced_window(
    text: str, clause_start: int, gaps: list[int]
) -> None:
    # Mentions of "蔚" spliced in at growing offsets, so windows hit and miss clause edges.
    inside: list[Mention] = []
    position = min(clause_start, len(text))
    for brand, gap in enumerate(gaps):
        position += gap
        text = text[:position] + "蔚" + text[position:]
        inside.append(Mention(brand, position, position + 1))
        position += 1
    clause = (min(clause_start, len(text)), len(text))
    inside = [m for m in inside if m.start >= clause[0]]
    assert passages._objects(text, clause, inside) == _reference_objects(text, clause, inside)


@settings(max_examples=1500, deadline=None)
@given(_TEXTS, st.integers(0, 40), st.integers(0, 80))
def test_head_end_finds_the_start_the_first_written_pattern_finds(
    text: str, pos: int, endpos: int
) -> None:
    # Only the first match's start is read (its length may differ: "\n- " is one character
    # now, three then).
    first_written = re.compile(r"[:：|]|\s[-–—]\s|\n")
    for args in ((), (pos,), (pos, endpos)):
        found, expected = passages._HEAD_END.search(text, *args), first_written.search(text, *args)
        assert (found and found.start()) == (expected and expected.start()), (text, args)
