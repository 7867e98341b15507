"""The rules judge reads structure (docs/analysis.md, "Sentiment" and "Stance"): one test per
pattern of issue 12, in Chinese and in English, each naming what it pins down."""

from __future__ import annotations

from typing import Any

import pytest

from diagnosis.analysis import BrandSpec, analyze_answer

PHONES = [
    BrandSpec("小米", ("xiaomi",)),
    BrandSpec("华为", ("huawei",)),
    BrandSpec("苹果", ("iphone",)),
]
CARS = [BrandSpec("Volvo"), BrandSpec("Tesla"), BrandSpec("Rivian")]


def _said(text: str, brand: str, brands: list[BrandSpec]) -> dict[str, Any]:
    found = {m["brand"]: m for m in analyze_answer(text, brands)["mentions"]}
    return found[brand]


@pytest.mark.parametrize(
    ("text", "brand", "brands", "sentiment"),
    [
        ("1. 华为：影像顶尖。\n2. 小米：续航是这几款里最短的。", "小米", PHONES,
         "negative"),
        ("小米的充电速度比华为更快，价格也最低。", "小米", PHONES, "positive"),
        ("For a family car, the Volvo XC40 is the safest choice.", "Volvo", CARS, "positive"),
        ("For road trips, nothing else comes close to the Tesla Model Y.", "Tesla", CARS,
         "positive"),
        ("The Rivian R1S is the worst value of the three.", "Rivian", CARS, "negative"),
    ],
)
def test_a_superlative_or_comparative_verdict_is_attributed_to_its_brand(
    text: str, brand: str, brands: list[BrandSpec], sentiment: str
) -> None:
    assert _said(text, brand, brands)["sentiment"] == sentiment


@pytest.mark.parametrize(
    ("text", "brand", "brands"),
    [
        ("小米14性能不错，新手不太建议直接买。", "小米", PHONES),
        ("华为的折叠屏很惊艳，可惜价格太高，并不是首选。", "华为", PHONES),
        ("The Rivian is too expensive to recommend for most people.", "Rivian", CARS),
        ("The Volvo is comfortable, but so I'd look at the other two first.", "Volvo", CARS),
        ("Tesla's build quality varies, so I would not recommend a used one.", "Tesla", CARS),
    ],
)
def test_a_negated_or_hedged_recommendation_warns_against_the_brand(
    text: str, brand: str, brands: list[BrandSpec]
) -> None:
    said = _said(text, brand, brands)
    assert (said["sentiment"], said["stance"]) == ("negative", "warned_against")


@pytest.mark.parametrize(
    ("text", "brand", "brands", "sentiment"),
    [
        ("小米的外观很漂亮，做工也精致，但是续航不够，发热也明显。", "小米", PHONES, "negative"),
        ("华为的价格偏高，不过影像和信号都是最好的。", "华为", PHONES, "positive"),
        ("The Tesla spec sheet is impressive, but the ride is harsh and service is slow.",
         "Tesla", CARS, "negative"),
        ("The Volvo is not the fastest, but it is the most comfortable and reliable.",
         "Volvo", CARS, "positive"),
    ],
)
def test_after_a_contrast_the_later_clause_carries_the_verdict(
    text: str, brand: str, brands: list[BrandSpec], sentiment: str
) -> None:
    assert _said(text, brand, brands)["sentiment"] == sentiment


@pytest.mark.parametrize(
    ("text", "brand", "brands"),
    [
        ("1. 小米：性能强。\n2. 苹果：生态好。\n\n相比之下，华为反而更稳妥。", "华为", PHONES),
        ("- Tesla: fast.\n- Rivian: rugged.\n\nOverall, the Volvo is the one I'd buy.",
         "Volvo", CARS),
    ],
)
def test_a_verdict_after_a_list_recommends_its_brand(
    text: str, brand: str, brands: list[BrandSpec]
) -> None:
    said = _said(text, brand, brands)
    assert (said["sentiment"], said["stance"]) == ("positive", "recommended")


@pytest.mark.parametrize(
    ("text", "brand", "brands"),
    [
        ("如果你已经在用苹果全家桶，iPhone值得买，否则没必要多花钱。", "苹果", PHONES),
        ("The Rivian is a fine pick if you already go off-road; otherwise there is little "
         "reason to choose it.", "Rivian", CARS),
    ],
)
def test_a_balanced_conditional_is_a_neutral_alternative(
    text: str, brand: str, brands: list[BrandSpec]
) -> None:
    said = _said(text, brand, brands)
    assert (said["sentiment"], said["stance"]) == ("neutral", "alternative")


@pytest.mark.parametrize(
    ("text", "brands", "stances"),
    [
        (
            "首选华为，信号最好。小米价格便宜，预算有限可以考虑。苹果太贵，不建议。",
            PHONES,
            {"华为": "recommended", "小米": "alternative", "苹果": "warned_against"},
        ),
        (
            "Go with the Volvo. The Rivian is worth a look if you camp. Tesla also sells an SUV.",
            CARS,
            {"Volvo": "recommended", "Rivian": "alternative", "Tesla": "mentioned"},
        ),
    ],
)
def test_each_mentioned_brand_gets_one_of_the_four_stances(
    text: str, brands: list[BrandSpec], stances: dict[str, str]
) -> None:
    found = {m["brand"]: m["stance"] for m in analyze_answer(text, brands)["mentions"]}
    assert found == stances


@pytest.mark.parametrize(
    ("text", "brands", "absent", "domain"),
    [
        ("详情见 https://www.xiaomi.com/phones/14 ，华为的售后网点更多。", PHONES, "小米",
         "xiaomi.com"),
        ("Reviews: https://www.rivian.com/r1s and [Volvo](https://volvocars.com/xc40) agree.",
         CARS, "Rivian", "rivian.com"),
    ],
)
def test_a_name_only_inside_a_url_is_a_source_not_a_mention(
    text: str, brands: list[BrandSpec], absent: str, domain: str
) -> None:
    analysis = analyze_answer(text, brands)
    assert absent not in {m["brand"] for m in analysis["mentions"]}
    assert domain in {s["domain"] for s in analysis["sources"]}


def test_a_markdown_link_label_still_names_its_brand() -> None:
    analysis = analyze_answer("推荐 [华为官网](https://www.huawei.com) 上的 Mate 系列。", PHONES)
    assert [m["brand"] for m in analysis["mentions"]] == ["华为"]
