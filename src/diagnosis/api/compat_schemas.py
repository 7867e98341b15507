"""The mini-program's request body and its translation into a `NewDiagnosis` (SPEC 6).

Pure: no I/O. Every refusal is a `CompatInvalid` with a message a marketer can act on, raised
before the engine is asked anything, so a refused request writes nothing.
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from diagnosis.engine.errors import DiagnosisError
from diagnosis.engine.planning import DEFAULT_QUESTIONS
from diagnosis.engine.service import Competitor, NewDiagnosis

MAX_NAME_CHARS = 100
MAX_COMPETITORS = 20
MAX_QUESTIONS = 50
MAX_QUESTION_CHARS = 500

# A question ends after one of these (and the mark stays with it); a new line ends one too.
QUESTION_MARKS = "？?"
CLAUSE_MARKS = "；;"
ENDINGS = QUESTION_MARKS + CLAUSE_MARKS
NAME_KEYS = ("value", "id", "name", "label")
# CJK characters (Han, kana, Hangul) and CJK punctuation (the CJK symbols block, fullwidth
# punctuation, the quotes and dashes Chinese text uses).
_CJK = (
    "\u2e80-\u2fdf\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK_PUNCTUATION = (
    "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
    "\u2014\u2018\u2019\u201c\u201d\u2026"
)
# The client joins its question boxes with one space: a run of spaces between CJK text (or
# CJK punctuation) and CJK text or a `{placeholder}` is a boundary; one inside Latin text is not.
_BOX_BOUNDARY = re.compile(f"(?<=[{_CJK}{_CJK_PUNCTUATION}])[^\\S\r\n]+(?=[{_CJK}{{])")
UNCHECKED = {"false", "0", "no", "off", ""}


class CompatInvalid(DiagnosisError):
    status_code = 422


class ModelChoice(BaseModel):
    """One entry of the mini-program's model picker; extra keys (icon, desc ...) are ignored."""

    model_config = ConfigDict(extra="ignore")
    value: str | None = None
    id: str | None = None
    name: str | None = None
    label: str | None = None
    checked: bool | int | float | str | None = Field(
        None, description="Missing or null = checked; false, 0, \"false\", \"0\", \"no\", "
        "\"off\" and \"\" = not checked"
    )


class BrandTestRequest(BaseModel):
    """Start a diagnosis, mini-program style / 小程序发起品牌检测."""

    # The old client sends fields of its own (timestamps, page state): ignored, not refused.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"examples": [{
            "brand_list": ["蔚来", "理想", "小鹏"],
            # the demo platform, so the example runs on a fresh install; the real client sends
            # lowercased ids such as "deepseek", "chatgpt", "gemini"
            "selectedModels": [{"name": "演示", "value": "demo", "checked": True},
                               {"name": "DeepSeek", "value": "deepseek", "checked": False}],
            "custom_question": "20万左右的新能源汽车品牌推荐 {brand}的智能驾驶水平怎么样？",
            "userOpenid": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
        }]},
    )

    brand_list: list[str] = Field(
        min_length=1, description="Own brand first, then competitors / 第一个为本品牌，其余为竞品"
    )
    selectedModels: list[str | ModelChoice] = Field(
        min_length=1,
        description="Platform ids or display names, or {value|id|name|label, checked} / 所选模型",
    )
    custom_question: str | None = Field(
        None,
        description="Questions split after ？ ? ； ;, at new lines and at spaces between CJK "
        "text and CJK text or `{` / 自定义问题",
    )
    customQuestions: list[str] | None = Field(
        None, description="Questions, one per item / 自定义问题列表"
    )
    userOpenid: str | None = Field(
        None, description="Owner when tokens are off / 用户 openid（未启用令牌时作为所有者）"
    )


# `since` on the status poll: digits (a seq), or a date with an optional time and zone; blank
# means no `since`. A '+' that a query string turned into a space is put back.
SINCE_PATTERN = (
    r"^\s*(\d{1,19}|\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?"
    r"(Z|[+ -]([01]\d|2[0-3]):?[0-5]\d)?)?)?\s*$"
)
_ZONE_AFTER_SPACE = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?) (\d{2}:?\d{2})$")


def parse_since(since: str | None) -> int | datetime | None:
    """A seq number, or a moment (naive = UTC); None when blank, or when it has the pattern's
    shape but is no real date (2024-02-30): then nothing can be known to be unchanged."""
    text = (since or "").strip()
    if not text:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(_ZONE_AFTER_SPACE.sub(r"\1+\2", text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def split_questions(text: str) -> list[str]:
    """Split after each ？ ? ； ; (a run of them ends one question), at new lines, and at spaces
    between CJK text and CJK text or `{` (SPEC 6), never inside Latin text; a question keeps its
    question mark, a trailing ；/; is dropped, blanks are dropped."""
    text = _BOX_BOUNDARY.sub("\n", text)
    questions: list[str] = []
    current: list[str] = []

    def close() -> None:
        piece = "".join(current).strip().rstrip(CLAUSE_MARKS).strip()
        current.clear()
        if piece.strip(ENDINGS + " \t"):  # not blank, not punctuation alone
            questions.append(piece)

    for index, char in enumerate(text):
        if char in "\r\n":
            close()
            continue
        current.append(char)
        following = text[index + 1] if index + 1 < len(text) else ""
        if char in ENDINGS and following not in ENDINGS:
            close()
    close()
    return questions


def model_name(choice: str | ModelChoice) -> str | None:
    """The platform name a picker entry means: a string itself, an object the first of value,
    id, name, label present; None for an unchecked object (a missing `checked` is checked)."""
    if isinstance(choice, str):
        return choice.strip() or None
    if not is_checked(choice.checked):
        return None
    for key in NAME_KEYS:
        value = getattr(choice, key)
        if value is not None and str(value).strip():
            return str(value).strip()
    raise CompatInvalid("a selected model has none of value, id, name or label")


def is_checked(flag: Any) -> bool:
    if flag is None or isinstance(flag, bool):
        return flag is not False
    if isinstance(flag, int | float):
        return flag != 0
    return str(flag).strip().lower() not in UNCHECKED


def selected_models(choices: Sequence[str | ModelChoice]) -> list[str]:
    names: list[str] = []
    for choice in choices:
        name = model_name(choice)
        if name is not None and name not in names:
            names.append(name)
    return names


def questions_of(body: BrandTestRequest) -> list[str]:
    """customQuestions (one per item) then custom_question (split); the defaults when none."""
    raw = [q.strip() for q in body.customQuestions or () if q.strip()]
    raw += split_questions(body.custom_question or "")
    questions = list(dict.fromkeys(raw))
    if len(questions) > MAX_QUESTIONS:
        raise CompatInvalid(f"too many questions: {len(questions)} (at most {MAX_QUESTIONS})")
    for question in questions:
        if len(question) > MAX_QUESTION_CHARS:
            raise CompatInvalid(
                f"a question is {len(question)} characters long (at most {MAX_QUESTION_CHARS}): "
                f"{question[:40]}..."
            )
    return questions or list(DEFAULT_QUESTIONS)


def brands_of(body: BrandTestRequest) -> tuple[str, list[str]]:
    """The own brand (first entry, required) and the competitors (blank entries dropped)."""
    names = [name.strip() for name in body.brand_list]
    brand, competitors = names[0], [n for n in names[1:] if n]
    if not brand:
        raise CompatInvalid("brand_list[0] must be your brand's name; it is empty")
    for name in (brand, *competitors):
        if len(name) > MAX_NAME_CHARS:
            raise CompatInvalid(
                f"brand name too long (at most {MAX_NAME_CHARS} characters): {name[:40]}..."
            )
    if len(competitors) > MAX_COMPETITORS:
        raise CompatInvalid(f"too many competitors: {len(competitors)} (at most {MAX_COMPETITORS})")
    return brand, list(dict.fromkeys(c for c in competitors if c != brand))


def owner_of(
    body: BrandTestRequest, token_owner: str | None, header_openid: str | None = None
) -> str | None:
    """With tokens on the token's owner wins; otherwise the mini-program's openid, from the
    body's userOpenid or else the X-User-OpenID header the client sends, if any."""
    if token_owner is not None:
        return token_owner
    openid = (body.userOpenid or "").strip() or (header_openid or "").strip()
    if len(openid) > MAX_NAME_CHARS:
        raise CompatInvalid(f"userOpenid too long (at most {MAX_NAME_CHARS} characters)")
    return openid or None


def refuse_nul(texts: Sequence[str]) -> None:
    # A NUL cannot be stored in PostgreSQL text: refused here (422), not at the write.
    if any("\x00" in text for text in texts):
        raise CompatInvalid("a brand, question or model name contains a NUL character")


def to_new_diagnosis(
    body: BrandTestRequest, token_owner: str | None, *, available_models: Sequence[str],
    header_openid: str | None = None,
) -> NewDiagnosis:
    """The request in the engine's terms; model names are resolved later, by the engine."""
    brand, competitors = brands_of(body)
    platforms = selected_models(body.selectedModels)
    if not platforms:
        raise CompatInvalid(
            "no model selected: tick at least one model", available_models=list(available_models)
        )
    questions = questions_of(body)
    owner = owner_of(body, token_owner, header_openid)
    refuse_nul([brand, *competitors, *platforms, *questions, owner or ""])
    return NewDiagnosis(
        brand=brand,
        competitors=[Competitor(name) for name in competitors],
        questions=questions,
        platforms=platforms,
        owner=owner,
    )
