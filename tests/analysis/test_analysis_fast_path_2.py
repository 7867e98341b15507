"""The second pass over the analysis hot path gives exactly what the plain definitions give.

Each shortcut (lines classified without NamedTuple's Python constructor or a second slice, a
heading tried only against the marker forms its first character opens, a brand's repeated
passages read once, back references found in one scan, taken characters checked without a copy,
a one-brand unit's yardsticks found once, a one-brand spelling's mention appended directly,
blank pieces dropped as they are cut) is checked against a copy of the definition it replaces,
on inputs chosen to break it; no timings.
"""

import random
import re
from collections.abc import Sequence
from itertools import pairwise

from bench.answers import LONG_ANSWER, SHORT_ANSWER, long_answer
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import BrandSpec, lexicon, mentions, passages, stance
from diagnosis.analysis import text as layout_text
from diagnosis.analysis.rank import ItemLocator
from diagnosis.analysis.stance import CueKind, SentenceMemo, Verdict
from diagnosis.analysis.text import (
    _EMPHASIS,
    _HEADER,
    _MARKERS,
    _RULE,
    _TABLE_SEPARATOR,
    Line,
    _cjk_number,
    marker_forms,
    normalize,
)

# --- lines -----------------------------------------------------------------------------------


def _reference_classify(text: str, start: int, end: int) -> Line:
    """classify as first written: Line(...) built by its constructor, all four heading forms."""
    raw = text[start:end]
    expanded = raw.replace("\t", "    ")
    body = expanded.lstrip(" \u3000")
    indent = len(expanded) - len(body)
    body = body.rstrip()
    if not body:
        return Line(start, end, "rule")
    if body.startswith("|") or ("|" in body and _TABLE_SEPARATOR.fullmatch(body)):
        return Line(start, end, "table", indent)
    if body.count("|") >= 2:
        return Line(start, end, "table", indent)
    header = _HEADER.match(body) if body[0] == "#" else None
    if header:
        rest = _EMPHASIS.sub("", body[header.end() :], count=1).lstrip()
        for _, pattern in _MARKERS[:4]:
            found = pattern.match(rest)
            if found:
                hashes = len(header.group(1))
                return Line(start, end, "item", 0, (0, hashes), _cjk_number(found.group(1)))
        return Line(start, end, "heading", indent, hashes=len(header.group(1)))
    if body[0] in "-*_" and _RULE.fullmatch(body):
        return Line(start, end, "rule")
    content = body[2:] if body.startswith(("**", "__")) else body
    for marker_level, pattern in marker_forms(content[:1]):
        found = pattern.match(content)
        if found and found.end() < len(content):
            number = _cjk_number(found.group(1)) if found.groups() else None
            return Line(start, end, "item", indent, (1, marker_level), number)
    return Line(start, end, "text", indent)


def _reference_split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    pos = 0
    for chunk in text.splitlines(keepends=True):
        stripped = chunk.rstrip("\r\n")
        lines.append(_reference_classify(text, pos, pos + len(stripped)))
        pos += len(chunk)
    return lines


_LINE_PIECES = st.sampled_from(
    [
        "#", "##", "### ", "###### ", "####### ", "**", "__", "*", "_", "-", "- ", "+ ", "• ", "·",
        "●", "|", " | ", "|---|", ":--:", "---", "***", "___", "1.", "1. ", "12)", "3、", "1.5",
        "(2)", "(二)", "三、", "十二.", "一", "٣. ", "²", "\t", " ", "\u3000", "  ", "\r", "\n",
        "\r\n", "\x0c", "\u2028", "\x85", "蔚来", "理想:", "nio", "好", "a", "0",
    ]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_LINE_PIECES, max_size=12).map("".join))
def test_lines_are_classified_as_the_first_written_classifier_did(text: str) -> None:
    # given any mixture of markers, headings, tables and rules; then every line agrees
    got = layout_text.split_lines(text)
    assert got == _reference_split_lines(text)
    assert all(type(line) is Line for line in got)


def test_a_line_built_without_the_constructor_is_the_line_the_constructor_builds() -> None:
    for raw in ("", "   ", "### 1. 蔚来", "## - x", "#### (一) 理想", "| a |", "- 好", "1. x"):
        text = f"前\n{raw}\n后"
        line = layout_text.classify(text, 2, 2 + len(raw))
        reference = _reference_classify(text, 2, 2 + len(raw))
        assert line == reference and line.fields() == reference.fields()


# --- a brand's passages, each distinct one read once -------------------------------------------


def _reference_verdict_of(passages: Sequence[str], *, memo: SentenceMemo | None = None) -> Verdict:
    """verdict_of as first written: every passage's cues and score, repeats included."""
    kinds = set[CueKind]()
    for passage in passages:
        kinds |= stance.cues(passage)
    strongest = next((kind for kind in stance._PRIORITY if kind in kinds), None)
    if strongest == "balanced":
        return Verdict("neutral", "alternative")
    if strongest == "warn":
        return Verdict("negative", "warned_against")
    if strongest == "recommend":
        return Verdict("positive", "recommended")
    score, evidence = 0.0, False
    for passage in passages:
        passage_score, has = stance.weighted_score(passage, memo)
        score, evidence = score + passage_score, evidence or has
    if strongest == "hedge":
        tone = "positive" if score > stance.NEUTRAL_BAND or not evidence else "neutral"
        return Verdict(tone, "alternative")
    if score > stance.NEUTRAL_BAND:
        return Verdict("positive", "recommended")
    if score < -stance.NEUTRAL_BAND:
        return Verdict("negative", "warned_against")
    return Verdict("neutral", "mentioned")


_PASSAGES = st.sampled_from(
    [
        "服务很好", "价格偏高,但是体验出色", "不推荐", "可以考虑", "一般", "略贵。不过很省心",
        "it is great, but expensive", "not recommended", "a decent alternative", "", "还行",
        "0.1好", "很差很差", "虽然贵,但值得", "if you want x, otherwise y is fine",
    ]
)


@settings(max_examples=800, deadline=None)
@given(st.lists(_PASSAGES, max_size=10))
def test_repeated_passages_give_the_verdict_reading_every_repeat_gives(said: list[str]) -> None:
    # given passages with repeats (the float sum keeps the passages' order, repeats included)
    assert stance.verdict_of(said, memo={}) == _reference_verdict_of(said, memo={})
    assert stance.verdict_of(said) == _reference_verdict_of(said)


# --- back references -----------------------------------------------------------------------------


def _reference_refers_back(sentence: str) -> bool:
    if any(word in sentence for word in lexicon.ZH_BACK_REFERENCES):
        return True
    if "其" in sentence and not all(
        any(word in sentence[max(0, i - 1) : i + 2] for word in lexicon.ZH_QI_NOT_REFERENCE)
        for i, char in enumerate(sentence)
        if char == "其"
    ):
        return True
    tokens = re.findall(r"[a-z0-9]+(?:['\-][a-z0-9]+)*", sentence.replace("’", "'"))
    pairs = {f"{a}-{b}" for a, b in pairwise(tokens)}
    return bool(lexicon.EN_BACK_REFERENCES & (set(tokens) | pairs))


def test_the_back_reference_words_are_literals_and_there_are_some() -> None:
    # an empty alternation would match every sentence
    assert lexicon.ZH_BACK_REFERENCES and all(lexicon.ZH_BACK_REFERENCES)


_SENTENCE_PIECES = st.sampled_from(
    [
        *lexicon.ZH_BACK_REFERENCES, *lexicon.ZH_QI_NOT_REFERENCE, "其", "它", "该", "品牌", "车",
        "it", "its", "it's", "it’s", "this", "brand", "the", "company", "they", "-", " ", "'",
        "好", "x1", "their", "them", "itself", ",", "。",
    ]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_SENTENCE_PIECES, max_size=10).map("".join))
def test_back_references_found_in_one_scan_are_the_ones_found_word_by_word(sentence: str) -> None:
    assert passages._refers_back(sentence) == _reference_refers_back(sentence)


def test_a_clause_naming_no_brand_has_no_yardstick() -> None:
    # _attribute_clauses skips _objects for a clause without mentions: it would find none
    assert passages._objects("比理想更好", (0, 5), []) == set()


# --- mentions: taken characters ------------------------------------------------------------


def _reference_find_mentions(text: str, brands: Sequence[BrandSpec]) -> list[mentions.Mention]:
    chosen: list[mentions.Mention] = []
    taken = bytearray(len(text))
    for start, end in mentions.url_spans(text):
        taken[start:end] = b"\x01" * (end - start)
    by_length = sorted(
        mentions._candidates(text, brands), key=lambda m: (m.start - m.end, m.start, m.brand)
    )
    for mention in by_length:
        if any(taken[mention.start : mention.end]):
            continue
        taken[mention.start : mention.end] = b"\x01" * (mention.end - mention.start)
        chosen.append(mention)
    return sorted(chosen, key=lambda m: m.start)


_BRANDS = [
    BrandSpec("蔚来", ("NIO", "蔚来汽车"), is_own=True),
    BrandSpec("理想", ("Li Auto", "理想汽车")),
    BrandSpec("小鹏", ("XPeng",)),
    BrandSpec("汽车"),
]
_MENTION_PIECES = st.sampled_from(
    [
        "蔚来", "蔚来汽车", "理想汽车", "汽车", "nio", "NIO", "onion", "li auto", "li  auto", " ",
        "https://www.nio.com/x", "http://xpeng.com", "xpeng", "小鹏", "好", ".", "_", "理",
    ]
)


@settings(max_examples=800, deadline=None)
@given(st.lists(_MENTION_PIECES, max_size=14).map("".join))
def test_overlaps_resolved_without_copying_the_taken_span_are_resolved_alike(text: str) -> None:
    normalized = normalize(text)
    expected = _reference_find_mentions(normalized, _BRANDS)
    assert mentions.find_mentions(normalized, _BRANDS) == expected


# --- whole answers ----------------------------------------------------------------------------


def test_the_layout_of_bench_and_shuffled_answers_is_what_the_first_classifier_gives() -> None:
    rng = random.Random(2)
    answers = [LONG_ANSWER, SHORT_ANSWER, *(long_answer(n) for n in (500, 3000, 8000))]
    for _ in range(200):
        lines = rng.choice(answers).split("\n")
        rng.shuffle(lines)
        answers.append("\n".join(lines[: rng.randrange(1, len(lines) + 1)]))
    for answer in answers:
        normalized = normalize(answer)
        assert layout_text.split_lines(normalized) == _reference_split_lines(normalized)


def test_a_spelling_two_brands_share_is_a_candidate_of_each() -> None:
    brands = [BrandSpec("理想", ("li",)), BrandSpec("理想汽车", ("理想",)), BrandSpec("小鹏")]
    found = mentions._candidates("我选理想和小鹏", brands)
    assert sorted(found) == [(0, 2, 4), (1, 2, 4), (2, 5, 7)]


# --- passages: a one-brand unit's yardsticks found once -------------------------------------


def _reference_brand_passages(
    text: str, layout: layout_text.Layout, found: Sequence[mentions.Mention]
) -> dict[int, list[str]]:
    """brand_passages as first written: the sentence loop finds its sentences' yardsticks."""
    sentences = [
        (paragraph, sentence)
        for paragraph in layout.prose
        for sentence in passages._pieces(paragraph[0], paragraph[1], text, passages._SENTENCE_END)
    ]
    rows = passages._Spans(layout.table_rows)
    prose_sentences = passages._Spans([s for _, s in sentences])
    locator = ItemLocator(layout, found)
    units: dict[passages.Span, list[mentions.Mention]] = {}
    headed: set[passages.Span] = set()
    for mention in found:
        hit = locator.locate(mention)
        unit = (hit.start, hit.end) if hit else rows.holding(mention.start)
        if unit:
            headed.add(unit)
        unit = unit or prose_sentences.holding(mention.start)
        units.setdefault(unit or (mention.start, mention.end), []).append(mention)
    out: dict[int, list[str]] = {}
    last_clause: dict[passages.Span, set[int]] = {}
    for unit, inside in units.items():
        owner = passages._owner(text, unit, inside) if unit in headed else None
        if owner is not None:
            out.setdefault(owner, []).append(text[unit[0] : unit[1]])
        elif len({m.brand for m in inside}) == 1:
            if passages._objects(text, unit, inside) != set(inside):
                out.setdefault(inside[0].brand, []).append(text[unit[0] : unit[1]])
        else:
            last_clause[unit] = passages._attribute_clauses(text, unit, inside, out)
    last: set[int] = set()
    section: set[int] = set()
    previous_paragraph = None
    for paragraph, sentence in sentences:
        if paragraph != previous_paragraph:
            last, previous_paragraph = set(), paragraph
        named = units.get(sentence)
        heading = text.startswith("#", sentence[0])
        if heading:
            brands_here = {m.brand for m in named or ()}
            section = brands_here if len(brands_here) == 1 else set()
        if named and passages._objects(text, sentence, named) == set(named):
            named = None
        if named:
            brands = {m.brand for m in named}
            last = brands if len(brands) == 1 else last_clause.get(sentence, brands)
        elif last and passages._refers_back(text[sentence[0] : sentence[1]]):
            for brand in last:
                out.setdefault(brand, []).append(text[sentence[0] : sentence[1]])
        elif section and not heading:
            for brand in section:
                out.setdefault(brand, []).append(text[sentence[0] : sentence[1]])
    return out


_PROSE_PIECES = st.sampled_from(
    [
        "蔚来", "理想", "小鹏", "nio", "它", "it ", "其实", "其", "比理想", "与蔚来、理想相比",
        "than nio", "更好", "很差", "服务好", ",", "。", ". ", "\n", "\n\n", "### ", "1. ", "- ",
        "| 蔚来 | 好 |", ":", "但是", "however ", "和", "、", "不推荐",
    ]
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_PROSE_PIECES, max_size=18).map("".join))
def test_passages_with_yardsticks_found_once_are_the_passages_found_twice(answer: str) -> None:
    normalized = normalize(answer)
    layout = layout_text.parse_layout(normalized)
    found = mentions.find_mentions(normalized, _BRANDS)
    expected = _reference_brand_passages(normalized, layout, found)
    assert passages.brand_passages(normalized, layout, found) == expected


def test_passages_of_the_bench_answers_are_the_passages_found_twice() -> None:
    for answer in (LONG_ANSWER, SHORT_ANSWER, long_answer(8000)):
        normalized = normalize(answer)
        layout = layout_text.parse_layout(normalized)
        found = mentions.find_mentions(normalized, _BRANDS)
        expected = _reference_brand_passages(normalized, layout, found)
        assert passages.brand_passages(normalized, layout, found) == expected


def _reference_pieces(
    start: int, end: int, text: str, pattern: re.Pattern[str]
) -> list[passages.Span]:
    spans, cursor = [], start
    for found in pattern.finditer(text, start, end):
        if found.start() > cursor:
            spans.append((cursor, found.start()))
        cursor = found.end()
    if cursor < end:
        spans.append((cursor, end))
    return [span for span in spans if text[span[0] : span[1]].strip()]


@settings(max_examples=1000, deadline=None)
@given(st.lists(_PROSE_PIECES, max_size=18).map("".join), st.integers(0, 30), st.integers(0, 90))
def test_pieces_cut_without_blanks_are_the_pieces_filtered_afterwards(
    text: str, start: int, end: int
) -> None:
    for pattern in (passages._SENTENCE_END, passages._CLAUSE_PUNCTUATION, re.compile(" ")):
        expected = _reference_pieces(start, end, text, pattern)
        assert passages._pieces(start, end, text, pattern) == expected
