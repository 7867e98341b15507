"""What the analysis builds lazily, built at start-up instead (issue 13).

The first answer with a URL built tldextract's suffix trie (~17 000 objects), the first answers
the lexicon, cue and stop-list tables: inside the first execution, where they also set off a
collection of the young generations over all of them. Built here, before the start-up heap is
frozen (diagnosis/heap.py), they join the objects the collector never scans again.
"""

from __future__ import annotations

from diagnosis.analysis.discovery import discover_brands
from diagnosis.analysis.domains import domain_kinds
from diagnosis.analysis.extract import analyze_answer
from diagnosis.analysis.schemas import BrandSpec

# Every structure the analysis reads: list items, bold heads, a brand table, Chinese and English
# prose with praise, reservations and a recommendation, and a URL.
_SAMPLE = (
    "综合来看，可以考虑以下几个品牌：\n\n"
    "1. **甲品牌**：服务很好，但价格偏高，推荐家庭用户。\n"
    "2. **乙品牌**：空间大，性价比高。\n"
    "- Brand C: reliable, though support is slow. I would not recommend it for beginners.\n\n"
    "| 品牌 | 价格 |\n| --- | --- |\n| 丙品牌 | 20万 |\n\n"
    "参考：https://www.example.com.cn/article/1\n"
)
_BRANDS = (BrandSpec("甲品牌", ("Brand A",), is_own=True), BrandSpec("乙品牌"))


def warm_up() -> None:
    """Analyse one sample answer and discover brands in it; the results are dropped."""
    analyze_answer(_SAMPLE, _BRANDS, kinds=domain_kinds())
    discover_brands([_SAMPLE], _BRANDS)
