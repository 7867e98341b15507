"""Request and response models of the HTTP API (SPEC 6), with the examples /docs shows.

Validation lives here so that a refused body never reaches the engine (nothing is written).
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

# What the schema promises, in the JSON Schema's own terms (a fuzzer checks both ways): no NUL
# (PostgreSQL text cannot hold one) and at least one non-space character; maxLength counts the
# text as sent, before trimming. Lone surrogates never get this far: pydantic refuses them.
_TEXT_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"


def _trimmed_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    value = value.strip()
    if not value:
        raise ValueError("must not be empty or only spaces")
    return value


def _text_schema(max_length: int) -> WithJsonSchema:
    return WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": _TEXT_PATTERN}
    )


# Trimmed of surrounding spaces, 1..N characters as sent, without NUL.
_TRIMMED = AfterValidator(_trimmed_text)
Name = Annotated[str, StringConstraints(max_length=100), _TRIMMED, _text_schema(100)]
Question = Annotated[str, StringConstraints(max_length=500), _TRIMMED, _text_schema(500)]
PlatformName = Annotated[str, StringConstraints(max_length=100), _TRIMMED, _text_schema(100)]


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: 2 and 2.0 are both integers; true, 1.5 and "2" are not.

    Pydantic's strict int refuses 2.0 and its lax int takes "2" and true, so neither fits the
    schema a client (or a fuzzer) reads.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


def _integer_schema(minimum: int, maximum: int) -> WithJsonSchema:
    return WithJsonSchema({"type": "integer", "minimum": minimum, "maximum": maximum})


Samples = Annotated[int, BeforeValidator(_json_integer), Field(ge=1, le=10),
                    _integer_schema(1, 10)]
DeadlineS = Annotated[int, BeforeValidator(_json_integer), Field(ge=1, le=3600),
                      _integer_schema(1, 3600)]

_NAME_SCHEMA: dict[str, Any] = {
    "type": "string", "minLength": 1, "maxLength": 100, "pattern": _TEXT_PATTERN,
}

# A host name (ASCII; IDNs in their xn-- form), at least two labels: "nio.com", "www.nio.com.cn".
# Sources on it or under it are the brand's own (or that competitor's) in the report.
_DOMAIN_PATTERN = (
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)+$"
)
_DOMAIN_SCHEMA: dict[str, Any] = {"type": "string", "maxLength": 253, "pattern": _DOMAIN_PATTERN}
_DOMAINS_SCHEMA: dict[str, Any] = {"type": "array", "items": _DOMAIN_SCHEMA, "maxItems": 20}


def _host(value: str) -> str:
    value = value.lower()
    return value[4:] if value.startswith("www.") and value.count(".") > 1 else value


Domain = Annotated[
    str,
    StringConstraints(max_length=253, pattern=_DOMAIN_PATTERN),
    AfterValidator(_host),
    WithJsonSchema(_DOMAIN_SCHEMA),
]
Domains = Annotated[list[Domain], Field(max_length=20), WithJsonSchema(_DOMAINS_SCHEMA)]


class CompetitorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    aliases: list[Name] = Field(default_factory=list, max_length=20)
    domains: Domains = Field(default_factory=list, description="Its sites / 官网域名")


def _competitor_object(value: Any) -> Any:
    # A bare name is the short form of {name}; converting before validation (rather than a
    # union) keeps error locations plain: `competitors.0.name`, not a union branch's tag.
    return {"name": value} if isinstance(value, str) else value


CompetitorItem = Annotated[
    CompetitorIn,
    BeforeValidator(_competitor_object),
    WithJsonSchema({"anyOf": [
        {**_NAME_SCHEMA, "title": "Name"},
        {
            "type": "object", "title": "Competitor", "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": _NAME_SCHEMA,
                "aliases": {"type": "array", "items": _NAME_SCHEMA, "maxItems": 20},
                "domains": _DOMAINS_SCHEMA,
            },
        },
    ]}),
]


class DiagnosisCreate(BaseModel):
    """Start a diagnosis / 发起一次品牌诊断."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "brand": "蔚来",
                    "aliases": ["NIO"],
                    "competitors": ["理想", {"name": "小鹏", "aliases": ["XPeng"]}],
                    "questions": ["20万左右的新能源汽车品牌推荐", "{brand}的售后服务怎么样？"],
                    "platforms": ["demo"],
                    "samples": 1,
                },
                {
                    "brand": "Anker",
                    "competitors": ["Belkin", "Ugreen"],
                    "questions": ["Which power bank brand is the most reliable?"],
                    "platforms": ["Demo"],
                },
            ]
        },
    )

    brand: Name = Field(description="Your brand / 品牌名")
    aliases: list[Name] = Field(default_factory=list, max_length=20, description="别名")
    domains: Domains = Field(
        default_factory=list,
        description="The brand's own sites (nio.com): cited pages there are `own` sources; "
        "subdomains included / 品牌官网域名",
    )
    competitors: list[CompetitorItem] = Field(
        default_factory=list, max_length=20,
        description="Competitors: names or {name, aliases} / 竞品",
    )
    questions: list[Question] = Field(
        default_factory=list, max_length=50,
        description="Questions; `{brand}` is expanded per brand; a default set when empty / 问题",
    )
    platforms: list[PlatformName] = Field(
        min_length=1, max_length=20,
        description="Platform ids or display names, e.g. DeepSeek, 通义千问, 豆包 / AI 平台",
    )
    # A JSON true, 1.5 or "2" is a wrong type, not a number to guess at; 2.0 is an integer.
    samples: Samples = Field(1, description="Times each question is asked / 采样次数")
    deadline_s: DeadlineS | None = Field(
        None, description="Deadline in seconds (default 300) / 截止时间（秒）",
    )
    owner: Name | None = Field(None, description="Owner (ignored when tokens are on) / 所有者")


class RetryRequest(BaseModel):
    """Optional body of a retry: competitors to add (e.g. a discovered brand) / 追加竞品."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"add_competitors": ["科沃斯", {"name": "追觅",
                                                                        "aliases": ["Dreame"]}]}]},
    )

    add_competitors: list[CompetitorItem] = Field(
        default_factory=list, max_length=20,
        description="Competitors to add: their `{brand}` questions run as new tasks and the "
        "copied answers are analysed again with them (a name already in the request is "
        "skipped) / 追加的竞品",
    )


# Named examples for the /docs "Try it out" menu; the first runs with no key and no network.
CREATE_EXAMPLES: dict[str, Any] = {
    "demo": {
        "summary": "Offline demo, no key needed / 离线演示（无需密钥）",
        "value": {
            "brand": "蔚来",
            "aliases": ["NIO"],
            "domains": ["nio.com", "nio.cn"],
            "competitors": [
                "理想", {"name": "小鹏", "aliases": ["XPeng"], "domains": ["xiaopeng.com"]},
            ],
            "questions": ["20万左右的新能源汽车品牌推荐", "{brand}的售后服务怎么样？"],
            "platforms": ["demo"],
            "samples": 2,
        },
    },
    "samples_and_deadline": {
        "summary": "Samples, deadline, owner; real platforms (DeepSeek, 通义千问, 豆包 ...) are "
                   "named the same way once their keys are set / 采样、截止时间",
        "value": {
            "brand": "蔚来",
            "competitors": ["理想", "小鹏"],
            "questions": ["20万左右的新能源汽车品牌推荐"],
            "platforms": ["demo"],
            "samples": 3,
            "deadline_s": 600,
            "owner": "marketing",
        },
    },
    "english": {
        "summary": "English brand and question / 英文",
        "value": {
            "brand": "Anker",
            "competitors": ["Belkin", "Ugreen"],
            "questions": ["Which power bank brand is the most reliable?"],
            "platforms": ["demo"],
        },
    },
}


class DiagnosisCreated(BaseModel):
    execution_id: str
    status: str
    total_tasks: int
    status_url: str
    events_url: str
    report_url: str

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "execution_id": "q3Jw0sV1c2Fh2r0K", "status": "queued", "total_tasks": 36,
        "status_url": "/api/diagnoses/q3Jw0sV1c2Fh2r0K",
        "events_url": "/api/diagnoses/q3Jw0sV1c2Fh2r0K/events",
        "report_url": "/api/diagnoses/q3Jw0sV1c2Fh2r0K/report",
    }]})


class MentionOut(BaseModel):
    brand: str
    rank: int | None
    sentiment: Literal["positive", "neutral", "negative"]
    count: int


class ResultOut(BaseModel):
    task_key: str
    question: str
    subject: str | None
    platform: str
    sample: int
    status: str
    error_kind: str | None
    answer: str | None
    truncated: bool = Field(
        default=False, description="The answer was cut at DIAGNOSIS_MAX_ANSWER_CHARS / 回答被截断"
    )
    error: str | None = Field(
        default=None, description="Why it failed, beyond error_kind / 失败原因"
    )
    latency_ms: int | None
    attempts: int
    usage: dict[str, int] | None
    finished_at: datetime | None
    analysis: dict[str, Any] | None


class ResultsPage(BaseModel):
    items: list[ResultOut]
    total: int
    offset: int
    limit: int


class ExecutionSummary(BaseModel):
    execution_id: str
    brand: str
    competitors: list[str]
    platforms: list[str]
    owner: str | None
    status: str
    stage: str
    progress: int
    total: int
    completed: int
    failed: int
    created_at: datetime
    finished_at: datetime | None
    retry_of: str | None


class HistoryPage(BaseModel):
    items: list[ExecutionSummary]
    total: int
    page: int
    limit: int


class FieldError(BaseModel):
    field: str = Field(description="The field, dotted (`competitors.0.name`) / 字段")
    message: str


class ErrorOut(BaseModel):
    """Every 4xx and 5xx body: `detail` always; the other keys where they apply."""

    model_config = ConfigDict(extra="allow")

    detail: str = Field(description="What went wrong / 错误说明")
    errors: list[FieldError] | None = Field(
        default=None, description="422: each invalid field / 各字段错误"
    )
    available_platforms: list[str] | None = Field(
        default=None, description="400: the platforms that can be used now / 可用平台"
    )
    total_tasks: int | None = Field(default=None, description="422: tasks the request makes")
    max_tasks: int | None = Field(default=None, description="422: DIAGNOSIS_MAX_TASKS")


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: bool = Field(description="The database answers / 数据库可用")
    running_executions: int


class PlatformLimits(BaseModel):
    max_concurrency: int
    rpm: int | None
    timeout_s: float
    max_retries: int
    failure_threshold: int
    reset_timeout_s: float


class PlatformSearch(BaseModel):
    """Web-grounded calls (`search = true` in the platforms file) / 联网搜索."""

    enabled: bool = Field(description="Calls ask for the platform's own web search / 已开启")
    supported: bool = Field(description="The platform has a web search wired here / 支持")
    mechanism: str | None = Field(
        description="dashscope | moonshot | zhipu | openai | demo; null when unsupported"
    )
    note: str | None = Field(description="Why it is unsupported / 不支持的原因")


class PlatformOut(BaseModel):
    """What the API shows of a platform: never its key (only whether one is set)."""

    id: str
    display_name: str
    aliases: list[str]
    model: str
    kind: str
    configured: bool = Field(description="Callable now (its key is set, or needs none) / 已配置")
    reason: str | None = Field(None, description="Why not configured / 未配置原因")
    limits: PlatformLimits
    search: PlatformSearch
    breaker: str = Field(description="closed | open | half_open")
