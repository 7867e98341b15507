"""The third pass over the analysis hot path gives exactly what the plain definitions give.

A sentence's contrasts are found in one scan of it, not one per clause; sentences are cut after
their end character instead of by a zero-width split; and all the sentences one brand's passages
still need are scored by one `score_passages` call: the pieces joined by a character no lexicon
word or degree adverb holds, the two automata run once over the lot. Each is checked against a
copy of the definition it replaces, on inputs chosen to break it and on every passage of the
labelled sets and the bench answers; no timings.
"""

import json
import re
from collections.abc import Sequence
from pathlib import Path

from bench.answers import LONG_ANSWER, SHORT_ANSWER, long_answer
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import BrandSpec, lexicon, mentions, passages, sentiment, stance
from diagnosis.analysis.text import normalize, parse_layout
from tests.analysis.test_analysis_fast_path import _ZH_PIECES

DATA = Path(__file__).resolve().parents[1] / "data"
LABELLED = ("labelled_dev.json", "labelled_test.json", "labelled_answers.json")


_CLAUSE_SPLIT = re.compile(r"[,;:，；：、]+|\s[-–—]\s")  # as first written
_SENTENCE_SPLIT = re.compile(r"(?<=[。!?\n])|(?<=\.)(?=\s)")  # as first written


def _pieces(sentence: str) -> list[str]:
    return stance._pieces_of([sentence])[0]


def _reference_sentence_pieces(sentence: str) -> list[str]:
    """A sentence's pieces as first cut: split into clauses, then a scan of each clause."""
    pieces: list[str] = []
    for clause in [c for c in _CLAUSE_SPLIT.split(sentence) if c.strip()]:
        cursor = 0
        for found in stance._CONTRAST_INSIDE.finditer(clause):
            if found.start() > cursor and clause[cursor : found.start()].strip():
                pieces.append(clause[cursor : found.start()])
                cursor = found.start()
        pieces.append(clause[cursor:])
    return pieces


def _reference_sentence_score(sentence: str) -> tuple[float, bool]:
    """A sentence's score as first written: each piece scored on its own by score_passage."""
    pieces = _reference_sentence_pieces(sentence)
    return stance._weigh(pieces, [sentiment.score_passage(piece) for piece in pieces])


def _reference_weighted_score(passage: str) -> tuple[float, bool]:
    total, evidence = 0.0, False
    for sentence in _SENTENCE_SPLIT.split(passage):
        if sentence.strip():
            score, has = _reference_sentence_score(sentence)
            total, evidence = total + score, evidence or has
    return total, evidence


def test_no_lexicon_word_or_degree_adverb_holds_the_joining_character() -> None:
    # else score_passages scores one passage at a time, and the tests below prove nothing
    assert sentiment._JOINABLE
    assert all(sentiment._HAS_CJK.search(word) for word in sentiment._ZH_WORDS)


_PIECES = st.one_of(  # score_chinese's own test pieces, with English words and the join
    _ZH_PIECES,
    st.sampled_from([*sorted(lexicon.EN_WEIGHTS)[:40], "not", "but", "is", "best-in-class"]),
    st.sampled_from(["\x00", "、", "x\x00y"]),
)
_TEXTS = st.lists(_PIECES, max_size=10).map("".join)


@settings(max_examples=600, deadline=None)
@given(st.lists(_TEXTS, max_size=8))
def test_passages_scored_together_score_as_each_alone(texts: list[str]) -> None:
    assert sentiment.score_passages(texts) == [sentiment.score_passage(t) for t in texts]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_PIECES, max_size=24).map("".join), max_size=6))
def test_sentences_scored_in_one_batch_score_as_each_scored_alone(said: list[str]) -> None:
    memo: stance.SentenceMemo = {}
    assert stance.weighted_scores(said, memo) == [_reference_weighted_score(p) for p in said]
    # and a second brand reading the same memo gets the same, scoring nothing new
    assert stance.weighted_scores(said[::-1], memo) == [
        _reference_weighted_score(p) for p in said[::-1]
    ]
    assert all(memo[s] == _reference_sentence_score(s) for s in memo)


_SENTENCE_PARTS = st.sampled_from([
    "但是", "但", "不过", "然而", "可是", "可惜", "反而", "只是", "but", "however", "yet",
    "though", "although", "whereas", "butter", "abut", "yet2", "好", "差", "蔚来", " ", "  ",
    ",", ";", ":", "，", "；", "：", "、", " - ", " — ", "-", "a", "x", "\n", "。", ".",
])


@settings(max_examples=1500, deadline=None)
@given(st.lists(_SENTENCE_PARTS, max_size=16).map("".join))
def test_contrasts_found_in_one_scan_cut_the_pieces_one_scan_per_clause_cuts(text: str) -> None:
    assert _pieces(text) == _reference_sentence_pieces(text)
    assert [m.span() for m in stance._CLAUSE_SEPARATOR.finditer(text)] == [
        m.span() for m in _CLAUSE_SPLIT.finditer(text)]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(_SENTENCE_PARTS, max_size=12).map("".join), max_size=6))
def test_the_pieces_of_sentences_cut_together_are_those_of_each_alone(said: list[str]) -> None:
    assert stance._pieces_of(said) == [_reference_sentence_pieces(s) for s in said]


_OPENINGS = st.sampled_from([
    "但是", "但", "不过", "然而", "可是", "可惜", "反而", "只是", "but", "however", "yet",
    "though", "although", "while", "whereas", " ", "\t", "\u3000", "\n", "x", "好", "b", "w",
])


@settings(max_examples=1500, deadline=None)
@given(st.lists(_OPENINGS, max_size=6).map("".join))
def test_a_piece_opening_with_no_contrast_opening_never_opens_with_a_contrast(text: str) -> None:
    if stance._CONTRAST_START.match(text):
        assert text.lstrip()[:1] in stance._CONTRAST_OPENINGS


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.sampled_from(["。", "!", "?", "\n", ".", " ", "\t", "\u3000", "a", "好", ". "]),
                max_size=16).map("".join))
def test_sentences_cut_after_their_end_are_the_parts_the_zero_width_split_gives(text: str) -> None:
    assert stance._sentences_of([text]) == [[s for s in _SENTENCE_SPLIT.split(text) if s.strip()]]


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["。", "!", "?", "\n", ".", " ", "\t", "a", "好", ". ",
                                          "\x00", ".\x00"]), max_size=8).map("".join),
                max_size=6))
def test_the_sentences_of_joined_passages_are_the_sentences_of_each_alone(
    passages: list[str],
) -> None:
    assert stance._sentences_of(passages) == [
        [s for s in _SENTENCE_SPLIT.split(passage) if s.strip()] for passage in passages
    ]


def _answers() -> list[tuple[str, list[BrandSpec]]]:
    bench = [BrandSpec("蔚来", ("NIO",), is_own=True), BrandSpec("理想"), BrandSpec("小鹏")]
    cases = [(text, bench) for text in (SHORT_ANSWER, LONG_ANSWER, long_answer(8000))]
    for name in LABELLED:
        for case in json.loads((DATA / name).read_text(encoding="utf-8")):
            brands = [BrandSpec(b["name"], tuple(b["aliases"]), b["is_own"])
                      for b in case["brands"]]
            cases.append((case["text"], brands))
    return cases


def _passages(text: str, brands: Sequence[BrandSpec]) -> list[list[str]]:
    normalized = normalize(text)
    found = mentions.find_mentions(normalized, brands)
    said = passages.brand_passages(normalized, parse_layout(normalized), found)
    return [list(dict.fromkeys(p)) for p in said.values()]


def test_every_passage_of_the_labelled_and_bench_answers_scores_as_before() -> None:
    checked = 0
    for text, brands in _answers():
        memo: stance.SentenceMemo = {}
        for distinct in _passages(text, brands):
            assert stance._sentences_of(distinct) == [
                [s for s in _SENTENCE_SPLIT.split(passage) if s.strip()] for passage in distinct
            ]
            for sentence in {s for p in distinct for s in _SENTENCE_SPLIT.split(p)}:
                assert _pieces(sentence) == _reference_sentence_pieces(sentence)
            assert stance.weighted_scores(distinct, memo) == [
                _reference_weighted_score(p) for p in distinct
            ], text[:80]
            checked += len(distinct)
    assert checked > 1000  # the sets are there and have passages
