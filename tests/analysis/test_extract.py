"""Specifications of the answer extractor (SPEC 8): mentions, rank, sentiment, sources."""

from __future__ import annotations

from collections.abc import Sequence

from diagnosis.analysis import BrandSpec, analyze_answer

NIO = BrandSpec("蔚来", ("NIO",), is_own=True)
LI = BrandSpec("理想汽车", ("理想", "Li Auto"))
XPENG = BrandSpec("小鹏汽车", ("小鹏", "XPeng"))
BYD = BrandSpec("比亚迪", ("BYD",))
TESLA = BrandSpec("特斯拉", ("Tesla",))
EV = (NIO, LI, XPENG, BYD, TESLA)


def mentions(text: str, brands: Sequence[BrandSpec] = EV) -> dict[str, dict]:
    return {m["brand"]: m for m in analyze_answer(text, brands)["mentions"]}


def ranks(text: str, brands: Sequence[BrandSpec] = EV) -> dict[str, int]:
    return {name: m["rank"] for name, m in mentions(text, brands).items()}


def tone(text: str, brand: str, brands: Sequence[BrandSpec] = EV) -> str:
    return mentions(text, brands)[brand]["sentiment"]


# --- mentions -----------------------------------------------------------------------------


def test_nio_is_not_found_inside_onion_union_or_opinion() -> None:
    # given words that contain "nio" as letters, when analysed, then nothing is mentioned
    assert mentions("Caramelize the onion; the UNION market agrees, in my opinion.") == {}


def test_fullwidth_nio_is_matched_after_nfkc() -> None:
    found = mentions("ＮＩＯ的ET7表现亮眼。")
    assert found["蔚来"]["count"] == 1


def test_latin_alias_next_to_cjk_characters_is_matched() -> None:
    assert set(mentions("选NIO的人看重服务，选ＢＹＤ的人看重价格。")) == {"蔚来", "比亚迪"}


def test_longest_match_wins_so_lixiang_qiche_counts_once() -> None:
    found = mentions("理想汽车的L9销量很好。")
    assert found["理想汽车"]["count"] == 1


def test_longer_alias_of_one_brand_wins_over_a_shorter_brand_name() -> None:
    # given brand A whose alias contains brand B's name
    apple, pie = BrandSpec("Apple Pie Co", ("苹果派",)), BrandSpec("苹果")
    # when the longer spelling appears, then it is A's mention only
    assert set(mentions("我最喜欢苹果派。", (apple, pie))) == {"Apple Pie Co"}


def test_cjk_name_is_a_plain_substring_so_lixiang_de_xuanze_counts() -> None:
    assert "理想汽车" in mentions("插混车型是比较理想的选择。")


def test_alias_is_reported_under_the_canonical_name_with_all_spellings_counted() -> None:
    found = analyze_answer("理想汽车（Li Auto）旗下的理想L9很受欢迎。", EV)["mentions"]
    assert found == [
        {
            "brand": "理想汽车",
            "rank": 1,
            "sentiment": "positive",
            "stance": "recommended",
            "count": 3,
        }
    ]


def test_mentions_come_in_order_of_first_appearance() -> None:
    result = analyze_answer("特斯拉和比亚迪之外，蔚来也值得看看。", EV)
    assert [m["brand"] for m in result["mentions"]] == ["特斯拉", "比亚迪", "蔚来"]


def test_no_text_gives_no_mentions_and_no_sources() -> None:
    assert analyze_answer(None, EV) == {"mentions": [], "sources": [], "judge": "rules",
                                       "discovered": []}
    assert analyze_answer("   ", EV) == {"mentions": [], "sources": [], "judge": "rules",
                                        "discovered": []}


def test_a_refusal_mentions_nobody() -> None:
    assert mentions("抱歉，我无法提供具体的汽车品牌推荐，建议咨询专业人士。") == {}


# --- rank -----------------------------------------------------------------------------------


def test_each_numbered_form_ranks_by_item_index() -> None:
    for marker in ("{n}. ", "{n}) ", "{n}、", "（{n}）", "({n}) "):
        lines = [marker.format(n=n) + name for n, name in enumerate(["五菱", "比亚迪", "蔚来"], 1)]
        assert ranks("推荐如下：\n" + "\n".join(lines)) == {"比亚迪": 2, "蔚来": 3}, marker


def test_chinese_numeral_items_rank() -> None:
    assert ranks("一、比亚迪\n二、吉利\n三、特斯拉") == {"比亚迪": 1, "特斯拉": 3}


def test_markdown_header_items_rank() -> None:
    text = "## 推荐\n### 1. 特斯拉\n品牌力强。\n### 2. 吉利\n\n实惠。\n### 3. 小鹏\n智驾领先。"
    assert ranks(text) == {"特斯拉": 1, "小鹏汽车": 3}
    assert ranks("## 1、吉利\n实惠。\n\n## 2、比亚迪\n省油。") == {"比亚迪": 2}


def test_each_bullet_form_ranks_by_item_index() -> None:
    for bullet in ("- ", "* ", "• "):
        text = "\n".join(bullet + name for name in ["吉利", "蔚来", "小鹏"])
        assert ranks(text) == {"蔚来": 2, "小鹏汽车": 3}, bullet


def test_blank_lines_between_items_do_not_end_the_list() -> None:
    text = "1. 吉利\n\n   价格低。\n\n2. 蔚来\n\n   服务好。\n\n3. 理想\n"
    assert ranks(text) == {"蔚来": 2, "理想汽车": 3}


def test_nested_lines_belong_to_their_parent_item() -> None:
    text = "1. 吉利\n   - 比特斯拉便宜\n2. 蔚来\n   - 换电方便\n3. 特斯拉\n"
    # Tesla first appears in a nested line of item 1: its rank is that item's
    assert ranks(text) == {"特斯拉": 1, "蔚来": 2}


def test_a_second_list_restarts_at_one() -> None:
    text = "经济型：\n1. 比亚迪\n2. 小鹏\n\n豪华型：\n1. 蔚来\n2. 理想\n"
    assert ranks(text) == {"比亚迪": 1, "小鹏汽车": 2, "蔚来": 1, "理想汽车": 2}


def test_numbering_restarting_at_one_starts_a_new_list_without_prose_between() -> None:
    assert ranks("1. 吉利\n2. 比亚迪\n1. 长安\n2. 蔚来") == {"比亚迪": 2, "蔚来": 2}


def test_a_table_is_not_a_list_so_rows_rank_by_first_mention() -> None:
    text = "| 品牌 | 评价 |\n|---|---|\n| 吉利 | 好 |\n| 蔚来 | 服务好 |\n| 比亚迪 | 实惠 |"
    assert ranks(text) == {"蔚来": 1, "比亚迪": 2}


def test_prose_only_ranks_by_order_of_first_mention_among_all_brands() -> None:
    assert ranks("比亚迪销量第一。特斯拉紧随其后，蔚来则主打服务。") == {
        "比亚迪": 1,
        "特斯拉": 2,
        "蔚来": 3,
    }


def test_prose_rank_counts_brands_found_in_lists_too() -> None:
    text = "1. 比亚迪\n2. 特斯拉\n\n另外，小鹏也可以考虑。"
    assert ranks(text) == {"比亚迪": 1, "特斯拉": 2, "小鹏汽车": 3}


def test_a_list_item_rank_wins_over_an_earlier_prose_mention() -> None:
    assert ranks("蔚来和理想都不错：\n1. 理想\n2. 蔚来") == {"蔚来": 2, "理想汽车": 1}


# --- sentiment ------------------------------------------------------------------------------


def test_plain_praise_is_positive_and_plain_criticism_negative() -> None:
    assert tone("比亚迪性价比很高，非常省心。", "比亚迪") == "positive"
    assert tone("特斯拉最近投诉较多，质量问题频发。", "特斯拉") == "negative"


def test_negation_flips_sentiment_in_chinese() -> None:
    assert tone("目前不推荐购买蔚来。", "蔚来") == "negative"
    assert tone("小鹏的车机不太好用。", "小鹏汽车") == "negative"
    assert tone("特斯拉的做工并不可靠。", "特斯拉") == "negative"
    assert tone("比亚迪在这一级别没有优势。", "比亚迪") == "negative"
    assert tone("理想L6几乎没有明显短板。", "理想汽车") == "positive"


def test_negation_flips_sentiment_in_english() -> None:
    assert tone("The XPeng G9 is not recommended.", "小鹏汽车") == "negative"
    assert tone("Tesla's build quality isn't very good.", "特斯拉") == "negative"
    assert tone("BYD isn't reliable in cold weather.", "比亚迪") == "negative"


def test_contrasting_clauses_are_attributed_to_their_own_brand() -> None:
    text = "比亚迪的刀片电池安全性出色，而特斯拉近期的召回事件让人担忧。"
    assert tone(text, "比亚迪") == "positive"
    assert tone(text, "特斯拉") == "negative"
    text = "NIO is great for service, while XPeng feels unreliable."
    assert tone(text, "蔚来") == "positive"
    assert tone(text, "小鹏汽车") == "negative"


def test_a_comparison_yardstick_does_not_take_the_clause() -> None:
    assert tone("蔚来的售后比特斯拉更贴心。", "特斯拉") == "neutral"


def test_a_following_sentence_referring_back_counts() -> None:
    text = "我推荐理想汽车。它的口碑极好。蔚来则不太推荐，它仍在亏损。"
    assert tone(text, "理想汽车") == "positive"
    assert tone(text, "蔚来") == "negative"


def test_a_list_mention_is_judged_on_the_whole_item_with_nested_lines() -> None:
    text = "1. 特斯拉\n   - 车机流畅\n   - 但投诉较多，质量问题频发\n2. 蔚来\n   - 服务好"
    assert tone(text, "特斯拉") == "negative"
    assert tone(text, "蔚来") == "positive"


def test_a_table_mention_is_judged_on_its_row() -> None:
    text = "| 品牌 | 评价 |\n|---|---|\n| 蔚来 | 服务出色 |\n| 小鹏 | 品控较差 |"
    assert tone(text, "蔚来") == "positive"
    assert tone(text, "小鹏汽车") == "negative"


def test_a_verdict_after_the_list_adds_to_the_brand() -> None:
    text = "1. 蔚来：换电。\n2. 理想：增程。\n总的来说，蔚来更值得推荐。"
    assert tone(text, "蔚来") == "positive"
    assert tone(text, "理想汽车") == "neutral"


def test_a_replacement_judge_is_used_when_given() -> None:
    class Grumpy:
        def judge(self, brand: str, passages: Sequence[str]) -> str:
            return "negative"

    result = analyze_answer("蔚来很好。", EV, judge=Grumpy())  # type: ignore[arg-type]
    assert result["mentions"][0]["sentiment"] == "negative"


# --- sources --------------------------------------------------------------------------------


def _url_and_domain(sources: list[dict[str, str]]) -> list[dict[str, str]]:
    # registrable_domain, kind and cited_by: tests/analysis/test_domains.py
    return [{"url": s["url"], "domain": s["domain"]} for s in sources]


def test_urls_lose_trailing_chinese_and_english_punctuation() -> None:
    text = "详见官网（https://www.nio.cn/es6）。另见 https://example.com/a, 以及https://x.org/p。"
    assert _url_and_domain(analyze_answer(text, EV)["sources"]) == [
        {"url": "https://www.nio.cn/es6", "domain": "nio.cn"},
        {"url": "https://example.com/a", "domain": "example.com"},
        {"url": "https://x.org/p", "domain": "x.org"},
    ]


def test_markdown_links_yield_their_url_and_duplicates_are_dropped() -> None:
    text = (
        "据[路透社](https://www.Reuters.com/autos/byd)报道，"
        "又见 https://www.Reuters.com/autos/byd 和 [Wiki](https://en.wikipedia.org/wiki/BYD_(company))."
    )
    assert _url_and_domain(analyze_answer(text, EV)["sources"]) == [
        {"url": "https://www.Reuters.com/autos/byd", "domain": "reuters.com"},
        {"url": "https://en.wikipedia.org/wiki/BYD_(company)", "domain": "en.wikipedia.org"},
    ]
