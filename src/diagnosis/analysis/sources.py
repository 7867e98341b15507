"""Sources cited in an answer: http(s) URLs, bare or as markdown links, and the API's own
citations, each with its domain, registrable domain and kind (analysis/domains.py).

Reads the original (not normalised) text so URLs keep their case; must never fetch anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from diagnosis.analysis.domains import DomainKinds, classify, registrable_domain
from diagnosis.analysis.schemas import BrandSpec

# Markdown links first so that "[官网](https://x.cn)" yields the URL without its ")".
_URL: Final = re.compile(
    r"\[[^\]\n]*\]\(\s*<?(?P<md>https?://(?:[^\s()<>]|\([^\s()<>]*\))+)>?(?:\s+\"[^\"]*\")?\s*\)"
    r"|(?P<bare>https?://[^\s<>\"'`\[\]{}|\\^（）【】《》〈〉「」『』“”‘’，。；：！？、]+)",
    re.IGNORECASE,
)
# Trailing characters that end a sentence rather than a URL (English and Chinese).
_TRAILING: Final = ".,;:!?'\"*_~）)】]》」』。，；：！？、…"


def _strip_trailing(url: str) -> str:
    while url and url[-1] in _TRAILING:
        # A closing parenthesis is part of the URL when it balances one inside it (wiki links).
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def domain_of(url: str) -> str:
    """Host, lowercased, without a leading "www." and without port or credentials ("" for a
    URL urlsplit refuses)."""
    return _domain_and_key(url)[0]


def _url_matches(text: str) -> Iterator[re.Match[str]]:
    """What `_URL.finditer(text)` finds, trying _URL only where a match can open: at a "[", or
    at an h / H (the only two that "h" matches under IGNORECASE; a test holds this) four or five
    characters before a "://" (http:// or https://). Every match holds a
    "://", so most answers need one search for it; the openings are found by str.find, not by
    a regex scan of every character."""
    if "://" not in text:
        return
    openings = []
    at = text.find("[")
    while at != -1:
        openings.append(at)
        at = text.find("[", at + 1)
    at = text.find("://")
    while at != -1:
        for start in (at - 5, at - 4):
            if start >= 0 and text[start] in "hH":
                openings.append(start)
        at = text.find("://", at + 1)
    end = 0  # matches do not overlap: an opening inside the last one is not tried
    for start in sorted(openings):
        if start >= end:
            found = _URL.match(text, start)
            if found:
                end = found.end()
                yield found


def url_spans(text: str) -> list[tuple[int, int]]:
    """Where URLs sit in text (the URL itself, not a markdown link's label): names inside
    them are sources, not mentions (SPEC 8)."""
    spans = []
    for found in _url_matches(text):
        group = "md" if found.group("md") else "bare"
        spans.append(found.span(group))
    return spans


def _text_urls(text: str) -> Iterator[str]:
    """The URLs written in text, their trailing punctuation cut, in order (repeats included)."""
    for found in _url_matches(text):
        url = _strip_trailing(found.group("md") or found.group("bare") or "")
        if url:
            yield url


def extract_sources(text: str) -> list[dict[str, str]]:
    """[{"url", "domain"}] in order of first appearance, deduplicated by URL."""
    seen: set[str] = set()
    sources: list[dict[str, str]] = []
    for url in _text_urls(text):
        domain = domain_of(url)
        if not domain or url in seen:
            continue
        seen.add(url)
        sources.append({"url": url, "domain": domain})
    return sources


def _hostname(netloc: str) -> str:
    """SplitResult.hostname of a str URL with this netloc, lowercased, "" for None: its
    _hostinfo's steps (a "%" zone is lowercased with the rest, as `hostname.lower()` did), in
    compiled code instead of two Python-level frames per URL (urllib.parse is not compiled)."""
    hostinfo = netloc.rpartition("@")[2]
    _, bracket, bracketed = hostinfo.partition("[")
    return (bracketed.partition("]")[0] if bracket else hostinfo.partition(":")[0]).lower()


def _domain_and_key(url: str) -> tuple[str, str]:
    """(domain_of(url), the key of URLs that name the same page) from one urlsplit: scheme and
    host case-folded, no fragment, no trailing slash (an API citation and the same link in the
    text are one source). ("", url) for a URL urlsplit refuses (no source)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed authority ("http://[::1")
        return "", url
    host = _hostname(parts.netloc).rstrip(".")
    path = parts.path.rstrip("/")
    query = f"?{parts.query}" if parts.query else ""
    netloc = (parts.netloc or "").lower().removeprefix("www.")
    return (host[4:] if host.startswith("www.") else host,
            f"{parts.scheme.lower()}://{netloc}{path}{query}")


def _api_urls(citations: Sequence[Mapping[str, Any]]) -> list[str]:
    urls = []
    for citation in citations:
        url = citation.get("url") if isinstance(citation, Mapping) else None
        if isinstance(url, str) and url.lower().startswith(("http://", "https://")):
            urls.append(url.strip())
    return urls


def answer_sources(
    text: str,
    *,
    citations: Sequence[Mapping[str, Any]] = (),
    brands: Sequence[BrandSpec] = (),
    kinds: DomainKinds | None = None,
) -> list[dict[str, str]]:
    """[{url, domain, registrable_domain, kind, cited_by}]: the API's citations first
    (cited_by "api"), then URLs written in the text that the API did not cite ("text"); one
    entry per page."""
    # One urlsplit per URL. A URL written twice has one key, so deduplicating by key alone
    # drops what extract_sources' deduplication by URL would have dropped first.
    found = [(url, "api") for url in _api_urls(citations)]
    found += [(url, "text") for url in _text_urls(text)]
    seen: set[str] = set()
    sources = []
    for url, cited_by in found:
        domain, key = _domain_and_key(url)
        if not domain or key in seen:
            continue
        seen.add(key)
        sources.append(
            {
                "url": url,
                "domain": domain,
                "registrable_domain": registrable_domain(domain),
                "kind": classify(domain, brands, kinds),
                "cited_by": cited_by,
            }
        )
    return sources
