"""The sixth pass over the analysis hot path gives exactly what the plain definitions give.

The stance cues of an answer's passages are read by one automaton call and one scan for English
cues over the passages joined, not one of each per passage; score_passages finds the passages
to score in English by one token scan over the joined text instead of one search for a Latin
letter per passage; the token pattern is spelt to open with a character class. Checked against
the definitions they replace, on inputs chosen to break them and on every answer of the
labelled sets and the bench; no timings.
"""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import lexicon, sentiment, stance
from tests.analysis.test_analysis_fast_path_3 import _answers, _passages
from tests.analysis.test_analysis_fast_path_4 import _CUE_TEXT

_JOIN_PARTS = st.sampled_from(["\x00", "x\x00", "\x00y", " \x00 ", "’", "不推荐", "推荐"])
_CUE_PASSAGE = st.lists(st.one_of(_CUE_TEXT, _JOIN_PARTS), max_size=4).map("".join)


def test_the_cues_can_be_read_over_joined_passages() -> None:
    # else cues_of reads one passage at a time, and the tests below prove nothing
    assert stance._CUES_JOINABLE


@settings(max_examples=1500, deadline=None)
@given(st.lists(_CUE_PASSAGE, max_size=6))
def test_the_cues_of_joined_passages_are_the_cues_of_each_alone(passages: list[str]) -> None:
    assert stance.cues_of(passages) == [stance.cues(passage) for passage in passages]


def test_the_cues_of_the_labelled_and_bench_passages_read_together_are_each_ones() -> None:
    checked = 0
    for text, brands in _answers():
        every = list(dict.fromkeys(p for passages in _passages(text, brands) for p in passages))
        found = stance.cues_of(every)
        assert found == [stance.cues(passage) for passage in every]
        checked += sum(bool(kinds) for kinds in found)
    assert checked > 100  # passages with cues were among them


_TOKEN_TEXT = st.lists(
    st.sampled_from(list("ab09'-’ x,\x00蔚")), max_size=16
).map("".join)


@settings(max_examples=1500, deadline=None)
@given(_TOKEN_TEXT)
def test_the_token_pattern_finds_what_its_plain_spelling_finds(text: str) -> None:
    plain = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")
    assert [m.span() for m in sentiment._EN_TOKEN.finditer(text)] == [
        m.span() for m in plain.finditer(text)
    ]


_EN_PIECES = st.one_of(
    st.sampled_from([*sorted(lexicon.EN_WEIGHTS)[:30], "not", "but", "best-in-class", "l6"]),
    st.sampled_from(["\x00", " ", ",", "’", "'", "-", "don’t", "蔚来很好", "3", "é", "x\x00y"]),
)


@settings(max_examples=800, deadline=None)
@given(st.lists(st.lists(_EN_PIECES, max_size=8).map("".join), max_size=8))
def test_passages_scored_in_english_together_score_as_each_alone(texts: list[str]) -> None:
    assert sentiment.score_passages(texts) == [sentiment.score_passage(t) for t in texts]
