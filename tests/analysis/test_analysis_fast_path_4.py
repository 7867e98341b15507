"""The fourth pass over the analysis hot path gives exactly what the plain definitions give.

All of an answer's brands are judged at once: a passage two brands share has its cues read once,
and the passages the score decides are scored by one `weighted_scores` call for all brands
instead of one per brand. Checked against the per-brand definition on inputs chosen to break it
and on every answer of the labelled sets and the bench; no timings.
"""

import re
from collections.abc import Sequence

from bench.answers import LONG_ANSWER
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import BrandSpec, analyze_answer, mentions, passages, rank, stance
from diagnosis.analysis import text as text_module
from diagnosis.analysis.rank import ItemHit
from diagnosis.analysis.stance import Verdict
from diagnosis.analysis.text import normalize, parse_layout
from tests.analysis.test_analysis_fast_path_2 import _PASSAGES, _reference_verdict_of
from tests.analysis.test_analysis_fast_path_3 import _answers


@settings(max_examples=600, deadline=None)
@given(st.lists(st.lists(_PASSAGES, max_size=6), max_size=5))
def test_brands_judged_together_get_the_verdict_each_gets_alone(said: list[list[str]]) -> None:
    # given brands whose passages repeat and overlap (a comparison sentence names two brands)
    together = stance.verdicts_of(said)
    # then each brand's verdict is the one the per-brand definition gives, shared memo or not
    assert together == [_reference_verdict_of(p) for p in said]
    assert together == [stance.verdict_of(p) for p in said]
    memo: stance.SentenceMemo = {}
    assert stance.verdicts_of(said, memo=memo) == together
    assert stance.verdicts_of(said[::-1], memo=memo) == together[::-1]


def _counting_scores(monkeypatch: object) -> list[list[str]]:
    calls: list[list[str]] = []
    real = stance.weighted_scores

    def counting(
        passages: Sequence[str], memo: stance.SentenceMemo | None = None
    ) -> list[tuple[float, bool]]:
        calls.append(list(passages))
        return real(passages, memo)

    monkeypatch.setattr(stance, "weighted_scores", counting)  # type: ignore[attr-defined]
    return calls


def test_the_brands_the_score_decides_are_scored_in_one_call(monkeypatch: object) -> None:
    calls = _counting_scores(monkeypatch)
    # given one brand recommended outright, two left to the score, sharing a passage
    said = [["强烈推荐蔚来，服务很好。"], ["理想空间大。", "小鹏和理想都一般。"],
            ["小鹏和理想都一般。", "小鹏售后口碑差。"]]
    verdicts = stance.verdicts_of(said)
    # then one call scored the two undecided brands' distinct passages, each once
    assert calls == [["理想空间大。", "小鹏和理想都一般。", "小鹏售后口碑差。"]]
    assert verdicts[0].stance == "recommended"
    assert verdicts == [_reference_verdict_of(p) for p in said]


def test_brands_all_decided_by_their_cues_are_never_scored(monkeypatch: object) -> None:
    calls = _counting_scores(monkeypatch)
    verdicts = stance.verdicts_of([["强烈推荐蔚来。"], ["不推荐理想。"]])
    assert [v.stance for v in verdicts] == ["recommended", "warned_against"]
    assert calls == []


def test_every_answer_of_the_labelled_sets_and_the_bench_judges_as_brand_by_brand() -> None:
    checked = 0
    for text, brands in _answers():
        normalized = normalize(text)
        found = mentions.find_mentions(normalized, brands)
        said = list(passages.brand_passages(normalized, parse_layout(normalized), found).values())
        assert stance.verdicts_of(said) == [_reference_verdict_of(p) for p in said], text[:80]
        checked += len(said)
    assert checked > 300  # the sets are there and name brands


def test_an_answer_names_each_brand_with_the_verdict_its_own_passages_give() -> None:
    brands = [BrandSpec("蔚来", is_own=True), BrandSpec("理想"), BrandSpec("小鹏")]
    text = "强烈推荐蔚来。理想空间大，但是偏贵。小鹏和理想都一般，小鹏售后差。"
    rows = {row["brand"]: row for row in analyze_answer(text, brands)["mentions"]}
    normalized = normalize(text)
    found = mentions.find_mentions(normalized, brands)
    said = passages.brand_passages(normalized, parse_layout(normalized), found)
    for index, brand in enumerate(brands):
        verdict = _reference_verdict_of(said[index])
        assert (rows[brand.name]["sentiment"], rows[brand.name]["stance"]) == (
            verdict.sentiment, verdict.stance)


def test_verdicts_and_item_hits_are_values_as_the_frozen_dataclasses_were() -> None:
    # written out as classes for the cost of building one; equal, hashed and shown by value
    assert Verdict("positive", "recommended") == Verdict("positive", "recommended")
    assert Verdict("positive", "recommended") != Verdict("positive", "alternative")
    assert len({Verdict("neutral", "mentioned"), Verdict("neutral", "mentioned")}) == 1
    assert repr(Verdict("neutral", "mentioned")) == (
        "Verdict(sentiment='neutral', stance='mentioned')")
    assert ItemHit(1, 0, 5) == ItemHit(1, 0, 5) != ItemHit(2, 0, 5)
    assert len({ItemHit(1, 0, 5), ItemHit(1, 0, 5)}) == 1
    assert ItemHit(1, 0, 5) != (1, 0, 5)


def test_the_layout_of_an_answer_holds_its_lists_items_and_prose() -> None:
    layout = parse_layout(normalize("推荐：\n1. 蔚来\n   - 换电\n2. 理想\n\n总结一句。"))
    (top,) = layout.lists
    assert [(item.start, item.head_end) for item in top.items] == [(4, 9), (18, 23)]
    assert [len(item.children) for item in top.items] == [1, 0]
    assert top.items[0].children[0].items[0].start == 10
    assert layout.prose and layout.table_rows == []


# --- English cues tried only where one can open -------------------------------------------------

_EN_CUES = [cue for kind in stance._PRIORITY for cue in stance._CUES["en"][kind]]


def test_every_english_cue_has_a_certain_opening_so_the_filter_is_on() -> None:
    assert stance._EN_OPENINGS is not None
    assert all(stance._openings(cue) and all(stance._openings(cue)) for cue in _EN_CUES)
    # and the derivation says "" (filter off) where a pattern opens with what it cannot read
    for unreadable in ("\\w+ pick", "(?:a|b)? pick", "[ab]c", "x|y", "(?:(?:a)|b)c", "?",
                       "ab|cd (?:x|y)", "(?:a)|b", ".x", "(x)y"):
        assert "" in stance._openings(unreadable), unreadable


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_EN_CUES).flatmap(
    lambda cue: st.tuples(st.just(cue), st.from_regex(cue, fullmatch=True))))
def test_every_text_an_english_cue_matches_opens_with_one_of_its_openings(
    drawn: tuple[str, str]
) -> None:
    cue, text = drawn
    assert text.startswith(tuple(stance._openings(cue))), (cue, text)
    opened = stance._EN_OPENINGS
    assert opened is not None and text.startswith(opened[text[0]])


_NEAR_CUES = st.sampled_from(
    ["nio", "n't", "nt recommend", "n't recommend", "not", "no reason", "dont buy", "don't buy",
     "id pick", "i'd pick", "i pick", "wouldnt go", "wouldn't go", "would not", "my favorite",
     "my favourite", "my favrite", "too pricey to recommend", "too ", "the one to get",
     "the phone i'd buy", "an", "an option", "a decent option", "a option", "recommendation",
     "recommends", "suv", "ota", "otherwise", "only if", "only for", "worth it only", "sense only",
     "hard to beat", "difficult to recommend", "cannot recommend", "cant recommend",
     "best-value pick", "go-to", "try it once", "use it as", "fine if", "fine", "is the way to go"]
)
_CUE_TEXT = st.lists(
    st.one_of(_NEAR_CUES, st.sampled_from(list(" ,.'’-_1a蔚来很好xé")),
              st.sampled_from(["not ", "the ", "x", "3", "推荐", "it ", "NIO ", "蔚来ES6"])),
    max_size=14,
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_CUE_TEXT)
def test_english_cues_tried_only_where_one_opens_are_what_the_full_scan_finds(text: str) -> None:
    found = [(m.span(), m.groupdict()) for m in stance._en_cue_matches(text)]
    assert found == [(m.span(), m.groupdict()) for m in stance._EN_CUE.finditer(text)]


def test_the_english_cues_of_the_labelled_and_bench_answers_are_what_the_full_scan_finds() -> None:
    for text, _brands in _answers():
        normalized = normalize(text)
        found = [(m.span(), m.groupdict()) for m in stance._en_cue_matches(normalized)]
        assert found == [(m.span(), m.groupdict()) for m in stance._EN_CUE.finditer(normalized)]


# --- one item locator per answer ----------------------------------------------------------------


def test_each_mention_is_located_once_per_answer(monkeypatch: object) -> None:
    located: list[mentions.Mention] = []
    real = rank.ItemLocator._locate

    def counting(self: rank.ItemLocator, mention: mentions.Mention) -> rank.ItemHit | None:
        located.append(mention)
        return real(self, mention)

    monkeypatch.setattr(rank.ItemLocator, "_locate", counting)  # type: ignore[attr-defined]
    brands = [BrandSpec("蔚来", ("NIO",), is_own=True), BrandSpec("理想"), BrandSpec("小鹏")]
    text = LONG_ANSWER
    analyze_answer(text, brands)
    # the ranks and the passages share the answer's locator: one lookup per mention, not two
    found = mentions.find_mentions(normalize(text), brands)
    assert sorted(located) == sorted(found) and len(found) > 10


def test_ranks_and_passages_from_the_shared_locator_are_those_of_a_locator_each() -> None:
    for text, brands in _answers():
        normalized = normalize(text)
        layout = parse_layout(normalized)
        found = mentions.find_mentions(normalized, brands)
        shared = rank.ItemLocator(layout, found)
        assert rank.assign_ranks(layout, found, len(brands), shared) == rank.assign_ranks(
            layout, found, len(brands))
        assert passages.brand_passages(normalized, layout, found, shared) == (
            passages.brand_passages(normalized, layout, found))
        assert [shared.locate(m) for m in found] == [
            rank.ItemLocator(layout, found).locate(m) for m in found]


# --- matches: finditer's matches from one search each -------------------------------------------

_MATCHED = [passages._CLAUSE_PUNCTUATION, passages._SENTENCE_END, passages._CLAUSE_WORD,
            passages._COMPARE_SPAN, stance._SENTENCE_END, stance._LATIN_RUN,
            re.compile(r"x*"), re.compile(r"\b"), re.compile(r"(?<=a)b|c?")]
_MATCH_TEXT = st.lists(st.sampled_from(
    ["与", "和", "相比", "比", "但是", "不过", "but", "。", ".", " ", "!", "\n", ",", "，", "、",
     "a", "b", "c", "x", "蔚来", "好", "ab", "nio"]), max_size=16).map("".join)


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(_MATCHED), _MATCH_TEXT, st.integers(0, 20), st.integers(0, 40))
def test_matches_are_the_matches_finditer_gives(
    pattern: re.Pattern[str], text: str, start: int, end: int
) -> None:
    def spans(found: list[re.Match[str]]) -> list[list[tuple[int, int]]]:
        return [[m.span(group) for group in range(pattern.groups + 1)] for m in found]

    assert spans(text_module.matches(pattern, text, start, end)) == spans(
        list(pattern.finditer(text, start, end))), (pattern.pattern, text, start, end)
