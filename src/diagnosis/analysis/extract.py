"""One answer in, its analysis out: mentions (rank, sentiment, count) and sources.

The entry point of the extractor (SPEC 8), composing text -> mentions -> rank / sentiment and
sources. A pure function of the answer text and the brand list: never I/O, never the model's
claims about its own answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from diagnosis.analysis.discovery import answer_discoveries
from diagnosis.analysis.domains import DomainKinds
from diagnosis.analysis.mentions import find_mentions
from diagnosis.analysis.passages import brand_passages
from diagnosis.analysis.rank import ItemLocator, assign_ranks
from diagnosis.analysis.schemas import BrandSpec
from diagnosis.analysis.sentiment import SentimentJudge
from diagnosis.analysis.sources import answer_sources
from diagnosis.analysis.stance import RulesJudge
from diagnosis.analysis.text import normalize, parse_layout

_RULES: Final = RulesJudge()


def analyze_answer(
    text: str | None,
    brands: Sequence[BrandSpec],
    *,
    judge: SentimentJudge | None = None,
    citations: Sequence[Mapping[str, Any]] = (),
    kinds: DomainKinds | None = None,
) -> dict[str, Any]:
    """-> {"mentions": [{"brand", "rank", "sentiment", "stance", "count"}], "sources": [...],
    "judge": "rules", "discovered": [{"name", "rank", "example"}]}

    `mentions` holds mentioned brands only, by canonical name, in order of first appearance.
    The rules judge always gives the stance; a `judge` given here replaces its sentiment.
    `discovered` holds the untracked brands the answer heads list items or table rows with
    (discovery.answer_discoveries), which the report counts across answers.
    `sources` merges the platform API's `citations` ({"url", ...}) with the URLs in the text.
    """
    if not text or not text.strip():
        sources = answer_sources("", citations=citations, brands=brands, kinds=kinds)
        return {"mentions": [], "sources": sources, "judge": _RULES.name, "discovered": []}
    normalized = normalize(text)
    layout = parse_layout(normalized)
    mentions = find_mentions(normalized, brands)
    locator = ItemLocator(layout, mentions)  # each mention's list item, found once for both
    ranks = assign_ranks(layout, mentions, len(brands), locator)
    passages = brand_passages(normalized, layout, mentions, locator)
    counts: dict[int, int] = {}  # not a Counter: its __init__ and update are Python frames
    for mention in mentions:
        counts[mention.brand] = counts.get(mention.brand, 0) + 1
    order = list(dict.fromkeys(mention.brand for mention in mentions))
    said = [passages.get(index, []) for index in order]
    verdicts = _RULES.verdicts(said)  # all brands at once: shared sentences scored once
    rows = []
    for index, passages_of, verdict in zip(order, said, verdicts, strict=True):
        name = brands[index].name
        rows.append(
            {
                "brand": name,
                "rank": ranks[index],
                "sentiment": judge.judge(name, passages_of) if judge else verdict.sentiment,
                "stance": verdict.stance,
                "count": counts[index],
            }
        )
    sources = answer_sources(text, citations=citations, brands=brands, kinds=kinds)
    return {"mentions": rows, "sources": sources, "judge": _RULES.name,
            "discovered": answer_discoveries(text, brands)}
