"""Builders of the analysis dicts a `ResultView` carries, with test-friendly defaults."""

from typing import Any

OPEN, TEMPLATED = "推荐几款扫地机器人", "{brand}怎么样？"


def mention(
    brand: str,
    rank: int | None = 1,
    sentiment: str = "neutral",
    *,
    count: int = 1,
    stance: str | None = None,
) -> dict[str, Any]:
    found = {"brand": brand, "rank": rank, "sentiment": sentiment, "count": count}
    return found if stance is None else {**found, "stance": stance}


def sources(*urls: str) -> list[dict[str, str]]:
    return [{"url": u, "domain": u.split("/")[2]} for u in urls]
