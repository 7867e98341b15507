"""Which text speaks about which brand: the passages a brand's tone and stance are judged on.

A brand's list item, table row or sentence (clause by clause when several brands share it, a
brand named only as the yardstick of a comparison getting none), plus sentences referring back
with 它 / it. Linear in the answer's size: every lookup is a bisection or a moving pointer.
Pure: must never do I/O.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise
from typing import Final

from diagnosis.analysis import lexicon
from diagnosis.analysis.mentions import Mention
from diagnosis.analysis.rank import ItemLocator
from diagnosis.analysis.text import Layout, latin_words, matches

Span = tuple[int, int]

# The splitting patterns open with a character class or literals so that the regex engine
# skips ahead to where a match can start (see text.latin_words): a run of the punctuation, or a
# "." followed by what ends a sentence, is `[。!?\n]+|\.(?=\s|$|[\u4e00-\u9fff])` spelt as
# one character of either, then the rest of its branch.
_SENTENCE_END: Final = re.compile(r"[。!?\n.](?:(?<=\.)(?=\s|$|[\u4e00-\u9fff])|(?<!\.)[。!?\n]*)")
# Punctuation ends a clause and is dropped; a contrast word starts the next clause and stays in
# it, so the judge still sees "A, but B". (`[,;。!?\n]+|\.(?=\s|$)`, spelt as above.)
_CLAUSE_PUNCTUATION: Final = re.compile(r"[,;。!?\n.](?:(?<=\.)(?=\s|$)|(?<!\.)[,;。!?\n]*)")
_CLAUSE_WORD: Final = re.compile(
    r"但是|但|然而|不过|可是|反而|而(?<![从因反进然]而)(?![且言是])|"
    + latin_words("but", "while", "whereas", "however", "although", "though")
)
_OBJECT_BEFORE: Final = re.compile(
    r"(?:比|相比|相比于|相较于|对比|较之|不如|比不上|比得上|不及|超过|超越|(?<![对关由])于"
    r"|\bthan|\bcompared (?:to|with)|\bunlike|\bversus|\bvs\.?|\bbeating"
    r"|\b(?:half|twice|double|triple|a third) (?:of )?what)\s*(?:(?:the|a|an)\s+)?$"
)
# Every comparison word above starts with one of these: a window without any (most Chinese
# ones) needs no search of the long alternation.
_OBJECT_HINT: Final = re.compile("[比相对较不超于tcuvbhda]")
_OBJECT_WINDOW: Final = 24  # characters before a mention that can hold its comparison word
_COMPARE_SPAN: Final = re.compile(
    r"(?:与|和|跟|同)(?P<objects>[^,;。!?\n]{1,40}?)"
    r"(?:相比|比较|比起|对比|比|差不多|一样|相当|接近|相近|类似|持平)"
)
# Where a list item's or table row's head ends: the brand named before it owns the unit.
# `[:：|]|\s[-–—]\s|\n` (only the match's start is read) spelt to open with one character
# class, its branch picked by a lookbehind at that character, so the engine skips ahead.
_HEAD_END: Final = re.compile(r"[:：|\s](?:(?<=[:：|\n])|[-–—]\s)")
_HEAD_REACH: Final = 40
_MARKER: Final = re.compile(
    r"[\s|#*•·>-]*(?:\(?(?:\d{1,3}|[一二三四五六七八九十]{1,3})[.)、]?\)?)?[\s*_]*"
)
_ENUMERATION: Final = re.compile(r"\s*(?:、|和|与|及|以及|或|,|\band\b|\bor\b|&)\s*")
_FILLER: Final = re.compile(r"(?:[\s\W_]|和|与|及|或|以及|and|or|the)*")


def _pieces(start: int, end: int, text: str, pattern: re.Pattern[str]) -> list[Span]:
    spans, cursor = [], start
    for found in matches(pattern, text, start, end):  # blank pieces dropped as they are cut
        separator = found.start()
        if separator > cursor and text[cursor:separator].strip():
            spans.append((cursor, separator))
        cursor = found.end()
    if cursor < end and text[cursor:end].strip():
        spans.append((cursor, end))
    return spans


def _clauses(start: int, end: int, text: str) -> list[Span]:
    """Clauses of a unit: split at punctuation (dropped) and before contrast words (kept)."""
    spans: list[Span] = []
    # One scan of the unit for contrast words instead of one per piece: no word holds a
    # separator's character, so none crosses a piece's end, and what its lookarounds see
    # past a piece's end (a separator, or the unit's end) is what they see at the end of a
    # piece-bounded search (test_passages_fast_path). Matches in dropped blank pieces cannot
    # occur (whitespace only).
    words = [found.start() for found in matches(_CLAUSE_WORD, text, start, end)]
    at = 0
    for piece_start, piece_end in _pieces(start, end, text, _CLAUSE_PUNCTUATION):
        cursor = piece_start
        while at < len(words) and words[at] < piece_end:
            word = words[at]
            at += 1
            if text[cursor:word].strip():
                spans.append((cursor, word))
                cursor = word
        spans.append((cursor, piece_end))
    return spans


def _objects(text: str, clause: Span, inside: Sequence[Mention]) -> set[Mention]:
    """Brands named only as the yardstick of a comparison (比理想更省心, 与蔚来、理想相比,
    than Tesla): the clause is not about them."""
    objects: set[Mention] = set()
    if not inside:
        return objects
    spans = matches(_COMPARE_SPAN, text, clause[0], clause[1])
    # No list comprehension run for a clause without a comparison span (most of them).
    compared = [found.span("objects") for found in spans] if spans else []
    previous: Mention | None = None
    for mention in inside:  # in text order
        window = max(clause[0], mention.start - _OBJECT_WINDOW)
        # The hint (one character, no context) is searched in place, and the window sliced
        # only when it holds one: _OBJECT_BEFORE's \b and $ must see the window's own edges.
        if (
            (
                _OBJECT_HINT.search(text, window, mention.start)
                and _OBJECT_BEFORE.search(text[window : mention.start])
            )
            or (
                compared
                and any(start <= mention.start and mention.end <= end for start, end in compared)
            )
            or (
                previous in objects
                and previous is not None
                and _ENUMERATION.fullmatch(text[previous.end : mention.start])
            )
        ):
            objects.add(mention)
        previous = mention
    return objects


def _without_mentions(text: str, clause: Span, inside: Sequence[Mention]) -> str:
    gaps, cursor = [], clause[0]
    for mention in inside:
        gaps.append(text[cursor : mention.start])
        cursor = mention.end
    gaps.append(text[cursor : clause[1]])
    return "".join(gaps)


def _attribute_clauses(
    text: str, unit: Span, mentions: Sequence[Mention], out: dict[int, list[str]]
) -> set[int]:
    """Share a unit naming several brands out clause by clause; returns the last clause's
    brands (what a following 它 / it refers to). Each brand gets its runs of consecutive
    clauses as one passage, separators and contrast words included."""
    ordered = sorted(mentions, key=lambda m: m.start)
    pointer = 0
    current: set[int] = set()
    pending: set[int] = set()
    runs: dict[int, list[Span]] = {}
    previous_clause_end: dict[int, int] = {}
    clauses = _clauses(unit[0], unit[1], text)
    for number, clause in enumerate(clauses):
        inside: list[Mention] = []
        while pointer < len(ordered) and ordered[pointer].start < clause[1]:
            if ordered[pointer].start >= clause[0]:
                inside.append(ordered[pointer])
            pointer += 1
        if inside:  # a clause naming no brand continues the current ones (no sets built)
            objects = _objects(text, clause, inside)
            subjects = {m.brand for m in inside if m not in objects}
            if subjects and _FILLER.fullmatch(_without_mentions(text, clause, inside)):
                pending |= subjects  # "蔚来，服务好": the name alone, then its clause
                continue
            if subjects or pending:
                current = subjects | pending
                pending = set()
        elif pending:
            current, pending = pending, set()
        for brand in current:
            spans = runs.setdefault(brand, [])
            if spans and previous_clause_end.get(brand) == number - 1:
                spans[-1] = (spans[-1][0], clause[1])
            else:
                spans.append(clause)
            previous_clause_end[brand] = number
    for brand, spans in runs.items():
        out.setdefault(brand, []).extend(text[start:end] for start, end in spans)
    return current


# Whether any of the words occurs in a sentence, in one scan instead of one `in` per word
# (an alternation of the literals matches somewhere exactly when one of them is a substring;
# the tuple is never empty, which would make the pattern match everything).
_ZH_BACK_REFERENCE: Final = re.compile("|".join(map(re.escape, lexicon.ZH_BACK_REFERENCES)))
_EN_TOKEN: Final = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")


def _refers_back(sentence: str) -> bool:
    if _ZH_BACK_REFERENCE.search(sentence):
        return True
    if "其" in sentence and not all(
        any(word in sentence[max(0, i - 1) : i + 2] for word in lexicon.ZH_QI_NOT_REFERENCE)
        for i, char in enumerate(sentence)
        if char == "其"
    ):
        return True
    tokens = _EN_TOKEN.findall(sentence.replace("’", "'"))
    if not tokens:  # most Chinese sentences: no token, no pair
        return False
    pairs = {f"{a}-{b}" for a, b in pairwise(tokens)}
    return bool(lexicon.EN_BACK_REFERENCES & (set(tokens) | pairs))


class _Spans:
    """Sorted, non-overlapping spans; which one holds a position, by bisection."""

    def __init__(self, spans: Sequence[Span]) -> None:
        self.spans = sorted(spans)
        self.starts = [span[0] for span in self.spans]

    def holding(self, position: int) -> Span | None:
        index = bisect_right(self.starts, position) - 1
        if index >= 0 and position < self.spans[index][1]:
            return self.spans[index]
        return None


def _owner(text: str, unit: Span, inside: Sequence[Mention]) -> int | None:
    """The one brand named in the head of a list item or table row ("2. 库迪：..."), which the
    whole unit is about; None when the head names none or several."""
    head_start = _MARKER.match(text, unit[0], unit[1])
    start = head_start.end() if head_start else unit[0]
    reach = min(unit[1], start + _HEAD_REACH)
    found = _HEAD_END.search(text, start + 1, reach)
    head_end = found.start() if found else reach
    heads = {m.brand for m in inside if m.start < head_end}
    return heads.pop() if len(heads) == 1 else None


def brand_passages(
    text: str, layout: Layout, mentions: Sequence[Mention], locator: ItemLocator | None = None
) -> dict[int, list[str]]:
    """The passages each mentioned brand is judged on, keyed by brand index (`locator`: the
    answer's, as for rank.assign_ranks)."""
    sentences = [
        (paragraph, sentence)
        for paragraph in layout.prose
        for sentence in _pieces(paragraph[0], paragraph[1], text, _SENTENCE_END)
    ]
    rows, prose_sentences = _Spans(layout.table_rows), _Spans([s for _, s in sentences])
    locator = locator or ItemLocator(layout, mentions)
    units: dict[Span, list[Mention]] = {}
    headed: set[Span] = set()  # list items and table rows: they have a head
    for mention in mentions:
        hit = locator.locate(mention)
        unit: Span | None = (hit.start, hit.end) if hit else rows.holding(mention.start)
        if unit:
            headed.add(unit)
        unit = unit or prose_sentences.holding(mention.start)
        units.setdefault(unit or (mention.start, mention.end), []).append(mention)

    out: dict[int, list[str]] = {}
    last_clause: dict[Span, set[int]] = {}  # per shared unit: the brands a following 它 means
    # A one-brand unit's yardsticks, found once: the sentence loop below asks again of the
    # sentences that are such units (a pure function of the unit and its mentions).
    unit_objects: dict[Span, set[Mention]] = {}
    for unit, inside in units.items():
        owner = _owner(text, unit, inside) if unit in headed else None
        if owner is not None:  # the others are named inside its item: yardsticks, mostly
            out.setdefault(owner, []).append(text[unit[0] : unit[1]])
        elif len({m.brand for m in inside}) == 1:
            unit_objects[unit] = _objects(text, unit, inside)
            if unit_objects[unit] != set(inside):  # not only "比小米更好"
                out.setdefault(inside[0].brand, []).append(text[unit[0] : unit[1]])
        else:
            last_clause[unit] = _attribute_clauses(text, unit, inside, out)

    # Sentences that name no brand but refer back to the one just discussed (它 / it), or sit
    # in the section of a "### Brand" heading that names one brand.
    last: set[int] = set()
    section: set[int] = set()
    previous_paragraph: Span | None = None
    for paragraph, sentence in sentences:
        if paragraph != previous_paragraph:
            last, previous_paragraph = set(), paragraph
        named = units.get(sentence)
        heading = text.startswith("#", sentence[0])
        if heading:
            brands_here = {m.brand for m in named or ()}
            section = brands_here if len(brands_here) == 1 else set()
        if named:
            objects = unit_objects.get(sentence)
            if objects is None:
                objects = _objects(text, sentence, named)
            if objects == set(named):
                named = None  # "它比小米的机型更好": 它 is the previous brand, 小米 a yardstick
        if named:
            brands = {m.brand for m in named}
            last = brands if len(brands) == 1 else last_clause.get(sentence, brands)
        elif last and _refers_back(text[sentence[0] : sentence[1]]):
            for brand in last:
                out.setdefault(brand, []).append(text[sentence[0] : sentence[1]])
        elif section and not heading:
            for brand in section:
                out.setdefault(brand, []).append(text[sentence[0] : sentence[1]])
    return out
