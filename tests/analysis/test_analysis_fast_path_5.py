"""The fifth pass over the analysis hot path gives exactly what the plain definitions give.

An answer's sources split each URL once (its domain and its page key from one urlsplit), and
deduplicate the text's URLs by page key alone. Checked against a copy of the definitions they
replace, on inputs chosen to break them and on every answer of the labelled sets and the bench;
no timings.
"""

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import BrandSpec, sources
from diagnosis.analysis.domains import classify, registrable_domain
from tests.analysis.test_analysis_fast_path_3 import _answers

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
        result.append({"url": url, "domain": domain, "registrable_domain": registrable_domain(domain),
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
