"""The seventh pass over the analysis hot path gives exactly what the plain definitions give.

It removes the Python-level frames the compiled analysis still ran for every answer: a URL's
host is read from its netloc in compiled code instead of through SplitResult.hostname, a list
item's head is a tuple built in C, each answer's discovery verdicts are looked up in one memo
per brand list instead of an lru_cache that hashed the brand tuple for every head, and the
mentions are counted without a Counter. Checked against the definitions they replace; no
timings.
"""

from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import BrandSpec, discovery, sources
from diagnosis.analysis.discovery import Head, answer_discoveries, list_heads

_NETLOC_PARTS = st.lists(st.sampled_from([
    "user", "u:p", "@", ":", "[", "]", "::1", "FE80::1", "%", "ETH0", "%25", "Zhihu.COM", "a.b",
    "80", "443", "www.", ".", "x", "", "ÄÖ.de", "İ", "v1.x",
]), max_size=10).map("".join)


@settings(max_examples=3000, deadline=None)
@given(_NETLOC_PARTS)
def test_the_host_read_off_a_netloc_is_split_result_hostname_lowercased(netloc: str) -> None:
    # given any authority, however odd (several "@", brackets, zones, no host at all)
    try:
        parts = urlsplit(f"https://{netloc}/p")
    except ValueError:  # urlsplit refuses it: the source is dropped before the host is read
        return
    # then the host is what SplitResult.hostname gave, lowercased, "" for None
    assert sources._hostname(parts.netloc) == (parts.hostname or "").lower()


def test_a_head_is_the_named_tuple_its_fields_name() -> None:
    heads = list_heads("推荐：\n1. **极氪**：设计好\n2. 零跑 - 便宜\n")
    assert heads == [Head("极氪", 1, "1. **极氪**：设计好"), Head("零跑", 2, "2. 零跑 - 便宜")]
    assert [(h.name, h.rank) for h in heads] == [("极氪", 1), ("零跑", 2)]
    assert all(type(h) is Head for h in heads)


def test_a_head_s_verdict_follows_the_brand_list_it_was_made_for() -> None:
    # given the same answer analysed for two brand lists, one of which tracks 极氪
    text = "推荐：\n1. 极氪：设计好\n2. 零跑：便宜\n"
    untracked = [BrandSpec("蔚来", is_own=True)]
    tracked = [BrandSpec("蔚来", is_own=True), BrandSpec("极氪")]
    # then each list gets its own verdicts, in either order
    for _ in range(2):
        assert [d["name"] for d in answer_discoveries(text, untracked)] == ["极氪", "零跑"]
        assert [d["name"] for d in answer_discoveries(text, tracked)] == ["零跑"]


def test_the_memo_of_a_brand_list_is_bounded_and_what_it_forgets_is_made_again() -> None:
    brands = (BrandSpec("蔚来", is_own=True), BrandSpec("一个只在这里的品牌"))
    memo = discovery._memo(brands)
    memo.update({f"头{i}": None for i in range(discovery._MEMO_MAX)})  # a full memo
    found = answer_discoveries("推荐：\n1. 极氪：设计好\n", brands)
    assert [d["name"] for d in found] == ["极氪"]
    assert len(memo) == 1 and "极氪" in memo  # cleared when full, then the new verdict kept
