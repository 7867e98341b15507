"""The fifth pass over the analysis hot path gives exactly what the plain definitions give.

An answer's sources split each URL once (its domain and its page key from one urlsplit), and
deduplicate the text's URLs by page key alone. English stance cues are tried where one search
for the cues' openings finds a run of letters opening with one, not at every run of letters
(the full scan is the definition: test_analysis_fast_path_4). A text with no English token
that can score scores 0 in English without its clauses cut. Checked against a copy of the
definitions they replace, on inputs chosen to break them and on every answer of the labelled
sets and the bench; no timings.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import BrandSpec, sentiment, sources, stance
from diagnosis.analysis.domains import classify, registrable_domain
from diagnosis.analysis.text import normalize
from tests.analysis.test_analysis_fast_path_3 import _answers
from tests.analysis.test_analysis_fast_path_4 import _CUE_TEXT

# --- sources: the definitions as they were ---------------------------------------------------


def _reference_dedupe_key(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    host = (parts.netloc or "").lower().removeprefix("www.")
    return f"{parts.scheme.lower()}://{host}{path}{query}"


def _reference_answer_sources(
    text: str, *, citations: Sequence[Mapping[str, Any]] = (),
    brands: Sequence[BrandSpec] = (),
) -> list[dict[str, str]]:
    found = [(url, "api") for url in sources._api_urls(citations)]
    found += [(s["url"], "text") for s in sources.extract_sources(text)]
    seen: set[str] = set()
    result = []
    for url, cited_by in found:
        key, domain = _reference_dedupe_key(url), sources.domain_of(url)
        if not domain or key in seen:
            continue
        seen.add(key)
        result.append({"url": url, "domain": domain,
                       "registrable_domain": registrable_domain(domain),
                       "kind": classify(domain, brands), "cited_by": cited_by})
    return result


_URL_PARTS = st.lists(st.sampled_from([
    "https://", "http://", "HTTPS://", "hTtp://", "www.", "WWW.", "Zhihu.com", "zhihu.com",
    "nio.com", "a.b.co.uk", "[::1", "[::1]", ":8080", "user@", "/", "/p", "/p/", "?q=1", "#f",
    ".", "。", ")", "(", "]", "[官网](", " ", "\n", "，", "x", "%20", "//", "..",
]), max_size=14).map("".join)
_TEXTS = st.lists(_URL_PARTS, max_size=5).map(" ".join)
_CITATIONS = st.lists(
    st.one_of(st.builds(lambda url: {"url": url}, _URL_PARTS), st.just({"title": "x"})),
    max_size=3,
)
_BRANDS = [BrandSpec("蔚来", ("NIO",), is_own=True, domains=("nio.com",)),
           BrandSpec("知乎", domains=("zhihu.com",))]


@settings(max_examples=1500, deadline=None)
@given(_TEXTS, _CITATIONS)
def test_sources_from_one_split_per_url_are_the_sources_of_the_two_splits(
    text: str, citations: list[dict[str, str]]
) -> None:
    # given text and API citations with repeated, malformed and same-page URLs
    # then the sources are those the definitions give, in the same order
    assert sources.answer_sources(text, citations=citations, brands=_BRANDS) == (
        _reference_answer_sources(text, citations=citations, brands=_BRANDS))


def test_a_page_cited_by_the_api_and_written_twice_in_the_text_is_one_api_source() -> None:
    text = "见 https://www.zhihu.com/q/1/ 与 https://WWW.zhihu.com/q/1 以及 https://zhihu.com/q/1/"
    found = sources.answer_sources(text, citations=[{"url": "https://zhihu.com/q/1"}])
    assert [(s["url"], s["cited_by"]) for s in found] == [("https://zhihu.com/q/1", "api")]
    assert found == _reference_answer_sources(text, citations=[{"url": "https://zhihu.com/q/1"}])


def test_a_url_urlsplit_refuses_is_no_source() -> None:
    assert sources.answer_sources("坏链接 http://[::1/x 好链接 https://nio.com/a") == [
        {"url": "https://nio.com/a", "domain": "nio.com", "registrable_domain": "nio.com",
         "kind": "other", "cited_by": "text"}]


def test_the_sources_of_the_labelled_and_bench_answers_are_as_before() -> None:
    checked = 0
    for text, brands in _answers():
        assert sources.answer_sources(text, brands=brands) == (
            _reference_answer_sources(text, brands=brands))
        checked += bool(sources.extract_sources(text))
    assert checked >= 8  # the check saw answers with sources (8 of them have some)


# --- English cues: where their openings start a run of letters ------------------------------


def _cue_spans(text: str) -> list[tuple[tuple[int, int], dict[str, str | None]]]:
    return [(m.span(), m.groupdict()) for m in stance._en_cue_matches(text)]


def test_every_cue_opening_is_searched_for_at_the_start_of_a_run_of_letters_only() -> None:
    assert stance._EN_OPENINGS is not None and stance._EN_OPENING is not None
    for opening in (o for found in stance._EN_OPENINGS.values() for o in found):
        assert stance._EN_OPENING.search(f"蔚来 {opening} x").start() == 3
        assert stance._EN_OPENING.match(f"x{opening}", 1) is None  # inside a run: not tried


@settings(max_examples=800, deadline=None)
@given(_CUE_TEXT)
def test_cues_found_with_or_without_the_opening_search_are_the_full_scans(text: str) -> None:
    # given a text near the cues (negations, prefixes of cues, cues inside words)
    full = [(m.span(), m.groupdict()) for m in stance._EN_CUE.finditer(text)]
    assert _cue_spans(text) == full
    # and with the openings unknown (some cue's opening not read off its pattern): every run
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stance, "_EN_OPENING", None)
        assert _cue_spans(text) == full


def test_the_cues_of_the_labelled_answers_every_run_tried_are_the_full_scans(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stance, "_EN_OPENING", None)
    for text, _brands in _answers():
        normalized = normalize(text)
        assert _cue_spans(normalized) == [
            (m.span(), m.groupdict()) for m in stance._EN_CUE.finditer(normalized)]


# --- a sentence's concession: tried only where one can open ---------------------------------

_CONCESSION_PARTS = st.sampled_from([
    "虽然", "尽管", "虽说", "虽", "although", "though", "while", "despite", " ", "\t", "\u3000",
    "\n", "\u2003", "x", "好", "a", "t", "w", "d", "尽", "al", "des",
])


@settings(max_examples=1500, deadline=None)
@given(st.lists(_CONCESSION_PARTS, max_size=6).map("".join))
def test_a_piece_opening_with_no_concession_opening_never_opens_with_a_concession(
    text: str,
) -> None:
    if stance._CONCESSION_START.match(text):
        assert text.lstrip()[:1] in stance._CONCESSION_OPENINGS


@settings(max_examples=800, deadline=None)
@given(st.lists(st.lists(_CONCESSION_PARTS, min_size=1, max_size=4).map("".join), max_size=4),
       st.lists(st.sampled_from([0.0, 1.0, -1.0, 0.5, -2.0]), min_size=4, max_size=4))
def test_a_sentence_is_weighed_as_the_concession_regex_alone_says(
    pieces: list[str], scores: list[float]
) -> None:
    scores = scores[: len(pieces)]
    weighed = stance._weigh(pieces, scores)
    # the definition: a concession opens the first of several pieces and no contrast turns
    turn = any(p.lstrip()[:1] in stance._CONTRAST_OPENINGS and stance._CONTRAST_START.match(p)
               for p in pieces[1:])
    if not turn:
        conceded = bool(pieces) and bool(stance._CONCESSION_START.match(pieces[0])) and (
            len(pieces) > 1)
        expected = (stance.BEFORE_CONTRAST_WEIGHT * scores[0] + sum(scores[1:]) if conceded
                    else sum(scores))
        assert weighed == (expected, any(scores))
    assert weighed[1] == any(scores)


# --- English scoring: a text with no token that can score is 0 without cutting its clauses ----


def _reference_score_english(text: str) -> float:
    """score_english as it was: every clause cut and scanned, whatever its tokens."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sentiment, "_EN_SCORING", _ALL_TOKENS)
        return sentiment.score_english(text)


class _AllTokens(frozenset[str]):
    """A set no token list is disjoint from: the shortcut never fires."""

    def isdisjoint(self, other: object) -> bool:
        return False


_ALL_TOKENS = _AllTokens()
_EN_PARTS = st.sampled_from([
    "great", "not", "best", "value", "-", "for", "money", "value-for-money", "best-in-class",
    "avoid", "but", "l6", "nio", "mega", "suv", " ", ",", ".", "’", "'", "蔚来", "很好", "\n",
    "well", "built", "well-built", "hard", "to", "recommend", "despite", "3", "x", "é",
])


@settings(max_examples=1500, deadline=None)
@given(st.lists(_EN_PARTS, max_size=12).map("".join))
def test_english_scores_with_the_shortcut_are_the_full_scores(text: str) -> None:
    assert sentiment.score_english(text) == _reference_score_english(text)


def test_every_passage_of_the_labelled_answers_scores_in_english_as_before() -> None:
    checked = 0
    for text, _brands in _answers():
        for sentence in re.split(r"(?<=[。!?\n.])", normalize(text)):
            assert sentiment.score_english(sentence) == _reference_score_english(sentence)
            checked += sentiment.score_english(sentence) != 0
    assert checked > 100  # English passages with a tone were among them
