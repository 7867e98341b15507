"""The mini-program's body, read without a server: question splitting, model names, brands."""

import pytest

from diagnosis.api.compat_schemas import (
    BrandTestRequest,
    CompatInvalid,
    ModelChoice,
    model_name,
    selected_models,
    split_questions,
    to_new_diagnosis,
)
from diagnosis.engine.planning import DEFAULT_QUESTIONS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the client joins its question boxes with one space: between CJK text it splits
        ("20万左右的新能源汽车推荐 适合家用吗？", ["20万左右的新能源汽车推荐", "适合家用吗？"]),
        ("20万左右的新能源汽车品牌推荐 {brand}的智能驾驶水平怎么样？",
         ["20万左右的新能源汽车品牌推荐", "{brand}的智能驾驶水平怎么样？"]),
        # after CJK punctuation too, and a run of spaces (ideographic ones included) is one cut
        ("你好，  世界\u3000 再见", ["你好，", "世界", "再见"]),
        # never inside Latin text, nor between Latin and CJK
        ("Which power bank brand is the best?", ["Which power bank brand is the best?"]),
        ("特斯拉 Model Y 怎么样", ["特斯拉 Model Y 怎么样"]),
        ("iPhone 15 怎么样 值得买吗", ["iPhone 15 怎么样", "值得买吗"]),
        # `{` on the right only splits after CJK: a placeholder then a space is kept together
        ("介绍一下{brand} {brand}的售后", ["介绍一下{brand} {brand}的售后"]),
        # split after each question mark, full or half width; each keeps its own mark
        ("哪个好？为什么?", ["哪个好？", "为什么?"]),
        ("Which is best? Why", ["Which is best?", "Why"]),
        # semicolons split too, and are not kept
        ("介绍一下{brand}；{brand}的售后;价格", ["介绍一下{brand}", "{brand}的售后", "价格"]),
        # new lines split, whatever their flavour; blanks and surrounding spaces are dropped
        ("第一个问题\r\n\n  第二个问题  \n\n", ["第一个问题", "第二个问题"]),
        # a run of marks ends one question, and a piece of punctuation alone is no question
        ("真的吗？？\n？\n;；", ["真的吗？？"]),
        ("", []),
        ("   \n \t ", []),
    ],
)
def test_custom_question_splits_after_marks_at_new_lines_and_between_cjk_boxes(
    text, expected
):
    assert split_questions(text) == expected


def test_the_clients_space_joined_boxes_split_back_into_its_questions():
    # what the mini-program sends: its three default boxes joined with one space
    text = ("{brandName}的核心竞争优势是什么？ {brandName}在目标用户群体中的认知度如何？ "
            "{brandName}与竞品的主要差异化体现在哪里？")
    assert split_questions(text) == [
        "{brandName}的核心竞争优势是什么？", "{brandName}在目标用户群体中的认知度如何？",
        "{brandName}与竞品的主要差异化体现在哪里？",
    ]
    text = "20万左右的新能源汽车品牌推荐 {brand}的智能驾驶水平怎么样？"
    assert split_questions(text) == [
        "20万左右的新能源汽车品牌推荐", "{brand}的智能驾驶水平怎么样？",
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("DeepSeek", "DeepSeek"),
        ("  通义千问 ", "通义千问"),
        # an object is named by the first of value, id, name, label present
        ({"name": "Demo", "value": "demo", "checked": True}, "demo"),
        ({"id": "kimi", "name": "Kimi", "label": "月之暗面"}, "kimi"),
        ({"name": "豆包", "label": "Doubao"}, "豆包"),
        ({"label": "智谱AI"}, "智谱AI"),
        ({"value": "", "id": None, "name": "ChatGPT"}, "ChatGPT"),
        # a missing or null `checked` means selected
        ({"value": "demo"}, "demo"),
        ({"value": "demo", "checked": None}, "demo"),
        # unchecked entries do not count, however the client spells "no"
        ({"value": "deepseek", "checked": False}, None),
        ({"value": "deepseek", "checked": 0}, None),
        ({"value": "deepseek", "checked": "false"}, None),
        ({"value": "deepseek", "checked": "true"}, "deepseek"),
    ],
)
def test_a_model_entry_is_named_by_value_id_name_label_and_only_when_checked(choice, expected):
    entry = choice if isinstance(choice, str) else ModelChoice.model_validate(choice)
    assert model_name(entry) == expected


def test_a_checked_model_object_without_any_name_is_refused():
    with pytest.raises(CompatInvalid, match="value, id, name or label"):
        model_name(ModelChoice.model_validate({"checked": True, "icon": "x.png"}))


def test_selected_models_keeps_order_and_drops_duplicates_and_unchecked():
    body = BrandTestRequest.model_validate({
        "brand_list": ["蔚来"],
        "selectedModels": ["demo", {"value": "deepseek", "checked": False}, {"name": "demo"},
                           {"label": "Kimi"}],
    })
    assert selected_models(body.selectedModels) == ["demo", "Kimi"]


def _body(**fields):
    return BrandTestRequest.model_validate(
        {"brand_list": ["蔚来", "理想", "小鹏"], "selectedModels": ["demo"], **fields}
    )


def test_first_brand_is_own_the_rest_competitors_and_the_openid_owns_it_when_open():
    new = to_new_diagnosis(_body(userOpenid="oABC"), None, available_models=["demo"])
    assert new.brand == "蔚来"
    assert [c.name for c in new.competitors] == ["理想", "小鹏"]
    assert new.owner == "oABC"


def test_the_token_owner_wins_over_the_openid():
    new = to_new_diagnosis(_body(userOpenid="oABC"), "alice", available_models=["demo"])
    assert new.owner == "alice"


def test_no_question_means_the_default_questions():
    new = to_new_diagnosis(_body(custom_question="  \n "), None, available_models=["demo"])
    assert new.questions == list(DEFAULT_QUESTIONS)


def test_question_list_and_question_text_are_both_taken():
    new = to_new_diagnosis(
        _body(customQuestions=["  A？ ", ""], custom_question="B？C"), None, available_models=[]
    )
    assert new.questions == ["A？", "B？", "C"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"brand_list": ["  ", "理想"]}, "brand_list"),
        ({"brand_list": ["x" * 101]}, "too long"),
        ({"brand_list": ["蔚来", *[f"c{i}" for i in range(21)]]}, "too many competitors"),
        ({"custom_question": "\n".join(f"q{i}" for i in range(51))}, "too many questions"),
        ({"custom_question": "长" * 501}, "at most 500"),
        ({"selectedModels": [{"value": "demo", "checked": False}]}, "no model selected"),
    ],
)
def test_limits_are_refused_with_a_clear_message(fields, message):
    with pytest.raises(CompatInvalid, match=message):
        to_new_diagnosis(_body(**fields), None, available_models=["demo"])
