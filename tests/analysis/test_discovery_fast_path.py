"""Competitor discovery's shortcuts give exactly what the plain definitions give.

Each shortcut (lines no marker can open skip the four line patterns, NFKC only where a line is
not NFKC already and one check for all lines when the whole text is, is_cjk's ranges as one
regex, a separator sought from where one can open, `_clean` without its loop when there is no
parenthesis, cached heads, the criteria intro read only when a list names something and its
Latin words only where it has a Latin letter, one verdict per distinct head in
`discover_brands`) is checked against the definition it replaces, on inputs chosen to break it;
no timings here.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from bench.answers import LONG_ANSWER, SHORT_ANSWER
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import BrandSpec
from diagnosis.analysis import discovery as d
from diagnosis.analysis.mentions import find_mentions, is_cjk
from diagnosis.analysis.text import _FULL_WIDTH, normalize

DATA = Path(__file__).resolve().parents[1] / "data"
BENCH_BRANDS = [BrandSpec("蔚来", ("NIO",), is_own=True), BrandSpec("理想"), BrandSpec("小鹏")]
EVERY_CHARACTER = "".join(map(chr, range(0x110000)))


def _labelled_answers() -> list[tuple[str, list[BrandSpec]]]:
    """Every answer of the labelled sets with its own brand list, and the bench's answers."""
    answers = []
    for name in ("labelled_answers.json", "labelled_dev.json", "labelled_test.json"):
        for case in json.loads((DATA / name).read_text(encoding="utf-8")):
            brands = [
                BrandSpec(b["name"], tuple(b.get("aliases", ())), is_own=b.get("is_own", False))
                for b in case["brands"]
            ]
            answers.append((case["text"], brands))
    for name in ("discovery_dev.json", "discovery_test.json"):
        for scenario in json.loads((DATA / name).read_text(encoding="utf-8"))["scenarios"]:
            brands = [
                BrandSpec(scenario["brand"], is_own=True),
                *(BrandSpec(c) for c in scenario["competitors"]),
            ]
            answers += [(answer["text"], brands) for answer in scenario["answers"]]
    return [*answers, (LONG_ANSWER, BENCH_BRANDS), (SHORT_ANSWER, BENCH_BRANDS)]


ANSWERS = _labelled_answers()

# What lines are made of: markers in their full-width and ASCII spellings, indentation of every
# kind, line boundaries beyond "\n", separators, parentheses, text NFKC changes.
_LINE_PIECES = st.one_of(
    st.sampled_from(
        ["1.", "1. ", "12) ", "(2) ", "（１）", "１．", "１、", "三、", "十二.", "- ", "* ", "+ ",
         "• ", "●", "▪ ", "◦", "#", "### ", "####### ", "**", "__", "[", "](x)", "|", " | ", "｜",
         "٣. ", "². ", "①", "⑴", "㈠", "ﬁ", "\u0301", "1.5", "(十)", "**1.** ", "#1. "]
    ),
    st.sampled_from(["", " ", "   ", "     ", "\t", "\u00a0", "\u3000", "\u2003", "\u200b"]),
    st.sampled_from(["\n", "\r\n", "\r", "\x0b", "\x1c", "\x85", "\u2028"]),
    st.sampled_from(
        ["：", ":", " - ", "——", "—", "，", "。", "、", "（NIO）", "(x)", "蔚来", "NIO", "ＮＩＯ",
         "小鹏 G6", "石头G20", "科沃斯机器人", "Tesla Model Y", "20万", "品牌", "推荐", "注意",
         "things to consider", "Budget options", "优点", "比亚迪", "|---|---|", "x"]
    ),
)
_ANSWERS_OF_PIECES = st.lists(_LINE_PIECES, max_size=40).map("".join)


def test_the_regex_classes_the_line_shortcut_reads_are_the_str_predicates() -> None:
    # `\s` is str.isspace (so str.lstrip drops just what `\s*` may skip), `\d` str.isdecimal
    assert re.findall(r"\s", EVERY_CHARACTER) == [c for c in EVERY_CHARACTER if c.isspace()]
    assert re.findall(r"\d", EVERY_CHARACTER) == [c for c in EVERY_CHARACTER if c.isdecimal()]


def _assert_no_pattern_the_shortcut_skips_matches(line: str) -> None:
    first = line.lstrip()[:1]
    if first != "|":
        assert d._TABLE.match(line) is None, repr(line)
    if first not in d._NUMBERED_STARTS and not first.isdecimal():
        assert d._NUMBERED.match(line) is None, repr(line)
    if first not in d._BULLET_STARTS:
        assert d._BULLET.match(line) is None, repr(line)
    if not line.startswith("#"):
        assert d._HEADER.match(line) is None, repr(line)
    assert d._NUMBERED_STARTS | d._BULLET_STARTS <= d._ITEM_STARTS and "#" in d._ITEM_STARTS


def test_no_other_character_opens_a_line_pattern() -> None:
    # given every character of the BMP, indented or not, in front of what would complete a
    # table row, a numbered item, a bullet or a header
    rests = ("1. x", "_1. x", "*1. x", ". x", ") x", "(1) x", "二、x", " x", "# x", "| x |")
    indents = ("", " ", "\t\u3000 ")
    for code in range(0x10000):
        for rest in rests:
            # then a pattern the line's opening character rules out does not match it
            _assert_no_pattern_the_shortcut_skips_matches(indents[code % 3] + chr(code) + rest)


@settings(max_examples=800, deadline=None)
@given(st.lists(_LINE_PIECES, max_size=10).map("".join))
def test_a_line_the_shortcut_skips_matches_none_of_the_four_patterns(text: str) -> None:
    for line in text.splitlines():
        _assert_no_pattern_the_shortcut_skips_matches(line)
        _assert_no_pattern_the_shortcut_skips_matches(unicodedata.normalize("NFKC", line).rstrip())


def test_full_width_replacements_neither_make_nor_break_a_line() -> None:
    for char, replacement in _FULL_WIDTH:
        assert len(f"a{char}b".splitlines()) == len(f"a{replacement}b".splitlines()) == 1


@settings(max_examples=800, deadline=None)
@given(_ANSWERS_OF_PIECES)
def test_nfkc_lines_are_each_lines_nfkc(text: str) -> None:
    expected = [unicodedata.normalize("NFKC", line) for line in text.splitlines()]
    assert d._nfkc_lines(text) == expected


def test_nfkc_lines_of_the_labelled_answers() -> None:
    for text, _ in ANSWERS:
        expected = [unicodedata.normalize("NFKC", line) for line in text.splitlines()]
        assert d._nfkc_lines(text) == expected


def test_the_cjk_regex_is_is_cjk() -> None:
    # every code point, the ranges' boundaries among them
    assert d._CJK.findall(EVERY_CHARACTER) == [c for c in EVERY_CHARACTER if is_cjk(c)]


# characters on either side of is_cjk's range boundaries, and some inside
_CJK_EDGES = list("a蔚来 ー가\u303f\u3040\u30ff\u3100\u4dbf\u4dc0\ud7af\ud7b0\ufaff\ufb00")
_CJK_EDGES += ["\U0001ffff", "\U00020000", "\U0002fa1f", "\U0002fa20"]


@settings(max_examples=800, deadline=None)
@given(st.text(alphabet=st.sampled_from(_CJK_EDGES), max_size=20))
def test_has_cjk_is_any_is_cjk(text: str) -> None:
    assert d._has_cjk(text) == any(is_cjk(ch) for ch in text)


_SEPARATOR_PIECES = st.one_of(
    st.sampled_from(list(" \t\u3000\u00a0:：-–—|x蔚")),
    st.sampled_from([" - ", " – ", " — ", "——", " | ", " :", ": ", "a-b", "**", "Roborock S8"]),
)


@settings(max_examples=800, deadline=None)
@given(st.lists(_SEPARATOR_PIECES, max_size=14).map("".join))
def test_a_separator_sought_from_where_one_can_open_is_the_one_found_by_scanning(
    text: str,
) -> None:
    found, expected = d._find_separator(text), d._SEPARATOR.search(text)
    assert (found and found.span()) == (expected and expected.span())


def _reference_clean(text: str) -> str:
    """_clean as first written: the parenthesis loop run whatever the text ends with."""
    text = text.replace("**", "").replace("__", "").replace("`", "").strip()
    text = text.strip(" *_#>：:-–—\u3000")
    previous = None
    while previous != text:
        previous, text = text, d._PAREN.sub("", text).strip()
    return text


_CLEAN_PIECES = st.one_of(
    st.sampled_from(list(" \t\n\u3000*_#>：:-–—`()（）")),
    st.sampled_from(["石头科技", "Roborock", "(x)", "（NIO）", " (a) ", "x)", "((", "))", "**"]),
)


@settings(max_examples=800, deadline=None)
@given(st.lists(_CLEAN_PIECES, max_size=12).map("".join))
def test_clean_skips_its_loop_only_where_there_is_no_parenthesis_to_strip(text: str) -> None:
    assert d._clean(text) == d._clean.__wrapped__(text) == _reference_clean(text)


def _heads_and_pieces() -> list[str]:
    """Heads as list_heads gives them, their models stripped, and the pieces around them."""
    names = []
    for text, brands in ANSWERS:
        for head in d.list_heads(text, brands):
            names += [head.name, d._strip_model.__wrapped__(head.name), head.line]
    return [*names, "", " ", "石头G20", "科沃斯机器人", "Roborock S8 Pro Ultra", "Budget options"]


@pytest.mark.parametrize(
    "cached", [d.is_generic, d._strip_model, d._clean], ids=lambda f: f.__name__
)
def test_cached_functions_give_what_the_uncached_give(cached: Callable[[str], object]) -> None:
    uncached = cached.__wrapped__  # type: ignore[attr-defined]
    for name in _heads_and_pieces() * 2:  # the second round from the cache
        assert cached(name) == uncached(name), repr(name)


def _reference_table_heads(
    rows: list[tuple[str, str]], brands: Sequence[BrandSpec]
) -> list[d.Head]:
    """_table_heads as first written: every row split into cells."""
    cells = [[c.strip() for c in row.strip().strip("|").split("|")] for row, _ in rows]
    if len(cells) < 2 or not d._is_entity_table(cells[0], brands):
        return []
    heads, rank = [], 0
    for row, (line, original) in zip(cells[1:], rows[1:], strict=True):
        if d._TABLE_SEPARATOR.match(line):
            continue
        rank += 1
        name = d._clean(row[0])
        if name and not d.is_generic(name):
            heads.append(d.Head(name, rank, original.strip()))
    return heads


# The intro patterns as first written: one pattern each, Chinese and Latin words together.
_CRITERIA_INTRO = re.compile(
    r"几点|几个方面|方面|因素|维度|注意|考虑|要点|看这|关注|建议|技巧|标准|"
    r"\b(?:things?|factors?|consider|considerations|check|look for|keep in mind|tips|criteria|"
    r"depends? on|think about)\b",
    re.IGNORECASE,
)
_BRAND_INTRO = re.compile(
    r"品牌|推荐|款|几家|厂商|\b(?:brands?|picks?|options|providers?|makers?|shortlist)\b",
    re.IGNORECASE,
)


def _reference_lists_criteria(intro: str) -> bool:
    return bool(_CRITERIA_INTRO.search(intro)) and not _BRAND_INTRO.search(intro)


def test_the_latin_letter_class_is_every_character_an_ignorecase_latin_letter_matches() -> None:
    expected = [c for c in EVERY_CHARACTER if re.match("[a-z]", c, re.IGNORECASE)]
    assert d._LATIN_LETTER.findall(EVERY_CHARACTER) == expected


_INTRO_PIECES = st.sampled_from(
    ["things", "Thing", "THINGS", "factor", "consider", "considerations", "check", "look for",
     "keep in mind", "\u212aeep in mind", "tip\u017f", "tips", "criteria", "depends on",
     "depend on", "think about", "brand", "Brands", "pick", "options", "provider", "makers",
     "shortlist", "\u017fhortlist", "几点", "注意", "品牌", "推荐", "款", "选手机主要看这", "x",
     "_", "1", " ", "，", ":", "é", "\u0130", "\u0131"]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_INTRO_PIECES, max_size=8).map("".join))
def test_lists_criteria_is_the_one_pattern_search(intro: str) -> None:
    assert d._lists_criteria(intro) == _reference_lists_criteria(intro)


def test_lists_criteria_of_the_labelled_answers_lines() -> None:
    for text, _ in ANSWERS:
        for line in text.splitlines():
            assert d._lists_criteria(line) == _reference_lists_criteria(line), line


def _reference_list_heads(text: str, brands: Sequence[BrandSpec] = ()) -> list[d.Head]:
    """list_heads as first written: each line NFKC'd and tried against all four patterns, the
    criteria intro read at every list's start."""
    heads: list[d.Head] = []
    bullets = 0
    header_counts: dict[int, int] = {}
    intro, in_list, criteria = "", False, False
    table: list[tuple[str, str]] = []
    for original in [*text.splitlines(), ""]:
        line = unicodedata.normalize("NFKC", original).rstrip()
        if d._TABLE.match(line):
            table.append((line, original))
            continue
        if table:
            heads += _reference_table_heads(table, brands)
            table = []
        numbered = d._NUMBERED.match(line)
        bullet, header = d._BULLET.match(line), d._HEADER.match(line)
        is_item = bool(numbered or bullet)
        if is_item and not in_list:
            criteria = _reference_lists_criteria(intro)
        in_list = is_item or (in_list and not line.strip())
        if not is_item and line.strip():
            intro = line
        name, rank = None, 0
        if numbered:
            digits = numbered.group(1) or numbered.group(2)
            rank = int(digits) if digits else d._CHINESE_DIGITS.find(numbered.group(3)[0]) + 1
            name, bullets = d._head_of(numbered.group("rest")), 0
        elif bullet:
            bullets += 1
            rank, name = bullets, d._head_of(bullet.group("rest"))
        elif header:
            depth = len(header.group("hashes"))
            header_counts[depth] = rank = header_counts.get(depth, 0) + 1
            name, bullets = d._head_of(header.group("rest")), 0
        elif line.strip():
            bullets = 0
        if name and not (is_item and criteria):
            heads.append(d.Head(name, rank, original.strip()))
    return heads


def _reference_discover_brands(
    answers: Sequence[str], brands: Sequence[BrandSpec]
) -> list[dict[str, object]]:
    """discover_brands as first written: every head judged again, every tally's example built."""
    per_answer: list[dict[str, d.Head]] = []
    names: dict[str, str] = {}
    for text in answers:
        found: dict[str, d.Head] = {}
        for head in _reference_list_heads(text or "", brands):
            if find_mentions(normalize(head.name), brands):
                continue
            name = d._strip_model.__wrapped__(head.name)
            key = normalize(name)
            if not d.is_generic.__wrapped__(name):
                found.setdefault(key, head)
                names.setdefault(key, name)
        per_answer.append(found)
    homes = d._homes(set(names))
    tallies: dict[str, d._Tally] = {}
    for found in per_answer:
        counted: set[str] = set()
        for key, head in found.items():
            home = homes[key]
            if home in counted:
                continue
            counted.add(home)
            tally = tallies.setdefault(home, d._Tally(names[home], d._example(head.line)))
            tally.answers += 1
            tally.ranks.append(head.rank)
    ranked = sorted(
        tallies.values(),
        key=lambda t: (-t.answers, sum(t.ranks) / len(t.ranks), normalize(t.name)),
    )
    return [
        {
            "name": t.name,
            "mentions": t.answers,
            "mention_rate": round(t.answers / len(answers), d.RATE_DIGITS),
            "avg_rank": round(sum(t.ranks) / len(t.ranks), d.RATE_DIGITS),
            "example": t.example,
        }
        for t in ranked[: d.TOP_N]
    ]


def test_list_heads_of_the_labelled_answers_are_the_first_written_ones() -> None:
    for text, brands in ANSWERS:
        assert d.list_heads(text, brands) == _reference_list_heads(text, brands), text[:60]


@settings(max_examples=800, deadline=None)
@given(_ANSWERS_OF_PIECES)
def test_list_heads_of_made_up_answers_are_the_first_written_ones(text: str) -> None:
    assert d.list_heads(text, BENCH_BRANDS) == _reference_list_heads(text, BENCH_BRANDS)


def _shuffled_lines(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    rng.shuffle(lines)
    prefixes = ["", "1. ", "(2) ", "三、", "- ", "• ", "### ", "**", "|", "１．", "  ", "\u3000"]
    return "\n".join(rng.choice(prefixes) + line for line in lines)


def test_discovery_over_many_answers_is_the_first_written_one() -> None:
    # given the labelled answers, whole and with their lines shuffled and re-marked, in batches
    # that share heads (the tracked brands', generic labels, the same unlisted brands)
    rng = random.Random(18)
    for _ in range(60):
        batch = rng.sample(ANSWERS, 8)
        brands = batch[0][1]
        texts = [text if rng.random() < 0.5 else _shuffled_lines(rng, text) for text, _ in batch]
        # then the candidates, their counts, ranks and examples are the first written ones
        assert d.discover_brands(texts, brands) == _reference_discover_brands(texts, brands)


# every character str.splitlines breaks a line at, and its two-character break
LINE_BREAKS = [c for c in EVERY_CHARACTER if len(f"a{c}b".splitlines()) == 2] + ["\r\n"]


def test_a_line_break_has_no_decomposition_and_is_in_no_other_characters() -> None:
    # a starter that composes with nothing and that no character's NFKC makes or takes apart:
    # NFKC reads each side of it alone, so a text is NFKC when (and only when) its lines are
    assert "\n" in LINE_BREAKS and "\u2029" in LINE_BREAKS and len(LINE_BREAKS) == 11
    breaks = {f"{ord(c):04X}" for c in LINE_BREAKS if len(c) == 1}
    for char in EVERY_CHARACTER:
        assert breaks.isdisjoint(unicodedata.decomposition(char).split()), hex(ord(char))
    for line_break in LINE_BREAKS:
        assert unicodedata.is_normalized("NFKC", line_break)
        assert all(unicodedata.combining(c) == 0 for c in line_break)
    outside = "".join(c for c in EVERY_CHARACTER if c not in LINE_BREAKS)
    assert not set(unicodedata.normalize("NFKC", outside)) & set(LINE_BREAKS)


# pieces NFKC composes, reorders or takes apart, either side of a line break
_NFKC_PIECES = st.sampled_from(
    ["e", "\u0301", "\u0308", "\u0323", "ᄀ", "ᅡ", "ᆨ", "가", "ﬁ", "①", "Å", "A\u030a", "蔚", "x",
     "\u3099", "か", "", " "]
)


@settings(max_examples=800, deadline=None)
@given(
    st.lists(_NFKC_PIECES, max_size=6).map("".join),
    st.sampled_from(LINE_BREAKS),
    st.lists(_NFKC_PIECES, max_size=6).map("".join),
)
def test_nfkc_of_a_text_is_its_lines_nfkc_across_every_line_break(
    before: str, line_break: str, after: str
) -> None:
    text = before + line_break + after
    nfkc = unicodedata.normalize
    assert nfkc("NFKC", text) == nfkc("NFKC", before) + line_break + nfkc("NFKC", after)
    assert unicodedata.is_normalized("NFKC", text) == (
        unicodedata.is_normalized("NFKC", before) and unicodedata.is_normalized("NFKC", after)
    )
    if unicodedata.is_normalized("NFKC", text):
        assert d._nfkc_lines(text) == [nfkc("NFKC", line) for line in text.splitlines()]
