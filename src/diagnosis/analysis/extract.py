"""One answer in, its analysis out: mentions (rank, sentiment, count) and sources.

The entry point of the extractor (SPEC 8), composing text -> mentions -> rank / sentiment and
sources. A pure function of the answer text and the brand list: never I/O, never the model's
claims about its own answer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from diagnosis.analysis.mentions import find_mentions
from diagnosis.analysis.rank import assign_ranks
from diagnosis.analysis.schemas import BrandSpec
from diagnosis.analysis.sentiment import LexiconJudge, SentimentJudge, brand_passages
from diagnosis.analysis.sources import extract_sources
from diagnosis.analysis.text import normalize, parse_layout

_DEFAULT_JUDGE = LexiconJudge()


def analyze_answer(
    text: str | None, brands: Sequence[BrandSpec], *, judge: SentimentJudge | None = None
) -> dict[str, Any]:
    """-> {"mentions": [{"brand", "rank", "sentiment", "count"}], "sources": [{"url", "domain"}]}

    `mentions` holds mentioned brands only, by canonical name, in order of first appearance.
    """
    if not text or not text.strip():
        return {"mentions": [], "sources": []}
    normalized = normalize(text)
    layout = parse_layout(normalized)
    mentions = find_mentions(normalized, brands)
    ranks = assign_ranks(layout, mentions, len(brands))
    passages = brand_passages(normalized, layout, mentions)
    counts = Counter(mention.brand for mention in mentions)
    chosen = judge or _DEFAULT_JUDGE
    order = list(dict.fromkeys(mention.brand for mention in mentions))
    return {
        "mentions": [
            {
                "brand": brands[index].name,
                "rank": ranks[index],
                "sentiment": chosen.judge(brands[index].name, passages.get(index, [])),
                "count": counts[index],
            }
            for index in order
        ],
        "sources": extract_sources(text),
    }
