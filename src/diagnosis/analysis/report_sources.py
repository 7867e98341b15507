"""The report's sources section (SPEC 8, docs/metrics.md "Sources"): cited registrable domains
and URLs with their kind and the brands named beside them, the share of citations per kind, and
citation opportunities (sites cited where competitors are named and the own brand is not).

Pure counting over stored analyses; analyses stored before sources had a kind are classified
here with the default table. Never does I/O beyond that table's first read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from diagnosis.analysis.domains import SOURCE_KINDS, classify, host_of, registrable_domain
from diagnosis.analysis.metrics import Answer
from diagnosis.analysis.schemas import BrandSpec

RATE_DIGITS = 4
# Sites a brand cannot be placed on: its own and its competitors' (never an "opportunity").
NOT_OPPORTUNITIES = ("own", "competitor")


class DomainCount(BaseModel):
    domain: str  # the host as cited (without www.)
    count: int  # ok answers citing it


class UrlCount(BaseModel):
    url: str
    count: int  # ok answers citing it (= answers, kept for older readers)
    kind: str
    answers: int
    brands: list[str]  # tracked brands named in those answers, most frequent first


class SourceDomain(BaseModel):
    registrable_domain: str
    kind: str  # the most frequent kind of its cited hosts
    answers: int  # ok answers citing a page under it
    brands: list[str]


class Opportunity(BaseModel):
    registrable_domain: str
    url: str | None  # its page cited most in those answers
    kind: str
    answers: int  # answers naming a competitor, not the own brand, that cite it
    competitors: list[str]  # named in those answers, most frequent first


class Sources(BaseModel):
    top_domains: list[DomainCount]
    urls: list[UrlCount]
    domains: list[SourceDomain]
    kinds: dict[str, float]  # share of citations (answer x page) per kind
    opportunities: list[Opportunity]


class _Cited:
    """One answer's distinct cited pages as (url, host, registrable domain, kind)."""

    __slots__ = ("answer", "pages")

    def __init__(self, answer: Answer, pages: list[tuple[str, str, str, str]]) -> None:
        self.answer = answer
        self.pages = pages


def _page(source: Mapping[str, Any], brands: Sequence[BrandSpec]) -> tuple[str, str, str, str]:
    url = str(source.get("url") or "")
    host = str(source.get("domain") or "") or host_of(url)
    registrable = str(source.get("registrable_domain") or "") or registrable_domain(host)
    kind = source.get("kind")
    if kind not in SOURCE_KINDS:
        kind = classify(host, brands)
    return url, host, registrable, str(kind)


def _cited(
    analysed: Sequence[tuple[Mapping[str, Any] | None, Answer]], brands: Sequence[BrandSpec]
) -> list[_Cited]:
    cited = []
    for analysis, answer in analysed:
        raw = (analysis or {}).get("sources") or ()
        pages: dict[str, tuple[str, str, str, str]] = {}
        for source in raw:
            if isinstance(source, Mapping) and (source.get("url") or source.get("domain")):
                page = _page(source, brands)
                if page[1]:
                    pages.setdefault(page[0] or page[1], page)
        cited.append(_Cited(answer, list(pages.values())))
    return cited


def _ranked(counter: Counter[str], top_n: int) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]


def _brand_order(counter: Counter[str], order: Sequence[str]) -> list[str]:
    return sorted(counter, key=lambda name: (-counter[name], order.index(name)))


def _top_kind(kinds: Counter[str]) -> str:
    return max(kinds.items(), key=lambda kv: (kv[1], -SOURCE_KINDS.index(kv[0])))[0]


def source_section(
    analysed: Sequence[tuple[Mapping[str, Any] | None, Answer]],
    brands: Sequence[BrandSpec],
    *,
    top_n: int,
) -> Sources:
    """`analysed`: (analysis, metrics answer) per ok analysed result."""
    order = [b.name for b in brands]
    own = next((b.name for b in brands if b.is_own), None)
    hosts: Counter[str] = Counter()
    urls: Counter[str] = Counter()
    domains: Counter[str] = Counter()
    url_kind: dict[str, str] = {}
    domain_kinds: dict[str, Counter[str]] = {}
    url_brands: dict[str, Counter[str]] = {}
    domain_brands: dict[str, Counter[str]] = {}
    kinds: Counter[str] = Counter()
    chances: Counter[str] = Counter()
    chance_urls: dict[str, Counter[str]] = {}
    chance_rivals: dict[str, Counter[str]] = {}
    chance_kinds: dict[str, Counter[str]] = {}
    for item in _cited(analysed, brands):
        named = [n for n in order if n in item.answer.mentions]
        rivals = [n for n in named if n != own]
        # Like the gaps: open answers and templated answers about the own brand only.
        eligible = own is not None and item.answer.subject in (None, own)
        is_gap = eligible and bool(rivals) and own not in named
        for registrable in {p[2] for p in item.pages}:
            domains[registrable] += 1
            domain_brands.setdefault(registrable, Counter()).update(named)
        for host in {p[1] for p in item.pages}:
            hosts[host] += 1
        gap_domains: set[str] = set()
        for url, _host, registrable, kind in item.pages:
            kinds[kind] += 1
            domain_kinds.setdefault(registrable, Counter())[kind] += 1
            if url:
                urls[url] += 1
                url_kind.setdefault(url, kind)
                url_brands.setdefault(url, Counter()).update(named)
            if is_gap and kind not in NOT_OPPORTUNITIES:
                chance_kinds.setdefault(registrable, Counter())[kind] += 1
                if url:
                    chance_urls.setdefault(registrable, Counter())[url] += 1
                gap_domains.add(registrable)
        for registrable in gap_domains:
            chances[registrable] += 1
            chance_rivals.setdefault(registrable, Counter()).update(rivals)
    total = sum(kinds.values())
    return Sources(
        top_domains=[DomainCount(domain=d, count=c) for d, c in _ranked(hosts, top_n)],
        urls=[
            UrlCount(
                url=u, count=c, kind=url_kind[u], answers=c,
                brands=_brand_order(url_brands[u], order),
            )
            for u, c in _ranked(urls, top_n)
        ],
        domains=[
            SourceDomain(
                registrable_domain=d, kind=_top_kind(domain_kinds[d]), answers=c,
                brands=_brand_order(domain_brands[d], order),
            )
            for d, c in _ranked(domains, top_n)
        ],
        kinds={k: round(kinds[k] / total, RATE_DIGITS) if total else 0.0 for k in SOURCE_KINDS},
        opportunities=[
            Opportunity(
                registrable_domain=d,
                url=_ranked(chance_urls[d], 1)[0][0] if d in chance_urls else None,
                kind=_top_kind(chance_kinds[d]),
                answers=c,
                competitors=_brand_order(chance_rivals[d], order),
            )
            for d, c in _ranked(chances, top_n)
        ],
    )
