"""Sources cited in an answer: http(s) URLs, bare or as markdown links, and their domains.

Reads the original (not normalised) text so URLs keep their case; must never fetch anything.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# Markdown links first so that "[官网](https://x.cn)" yields the URL without its ")".
_URL = re.compile(
    r"\[[^\]\n]*\]\(\s*<?(?P<md>https?://(?:[^\s()<>]|\([^\s()<>]*\))+)>?(?:\s+\"[^\"]*\")?\s*\)"
    r"|(?P<bare>https?://[^\s<>\"'`\[\]{}|\\^（）【】《》〈〉「」『』“”‘’，。；：！？、]+)",
    re.IGNORECASE,
)
# Trailing characters that end a sentence rather than a URL (English and Chinese).
_TRAILING = ".,;:!?'\"*_~）)】]》」』。，；：！？、…"


def _strip_trailing(url: str) -> str:
    while url and url[-1] in _TRAILING:
        # A closing parenthesis is part of the URL when it balances one inside it (wiki links).
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def domain_of(url: str) -> str:
    """Host, lowercased, without a leading "www." and without port or credentials."""
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:  # a malformed authority ("http://[::1") is not a source
        return ""
    return host[4:] if host.startswith("www.") else host


def url_spans(text: str) -> list[tuple[int, int]]:
    """Where URLs sit in text (the URL itself, not a markdown link's label): names inside
    them are sources, not mentions (SPEC 8)."""
    spans = []
    for found in _URL.finditer(text):
        group = "md" if found.group("md") else "bare"
        spans.append(found.span(group))
    return spans


def extract_sources(text: str) -> list[dict[str, str]]:
    """[{"url", "domain"}] in order of first appearance, deduplicated by URL."""
    seen: set[str] = set()
    sources: list[dict[str, str]] = []
    for found in _URL.finditer(text):
        url = _strip_trailing(found.group("md") or found.group("bare") or "")
        domain = domain_of(url) if url else ""
        if not domain or url in seen:
            continue
        seen.add(url)
        sources.append({"url": url, "domain": domain})
    return sources
