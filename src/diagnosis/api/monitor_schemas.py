"""Request and response models of /api/monitors (SPEC 12, docs/monitors.md).

The diagnosis inside a monitor is validated by the very model of POST /api/diagnoses; the
webhook's secret is write-only (responses say `has_secret`).
"""

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from diagnosis.api.schemas import (
    CREATE_EXAMPLES,
    DiagnosisCreate,
    DiagnosisCreated,
    Name,
    PlatformName,
    _json_integer,
    _text_schema,
    _trimmed_text,
)
from diagnosis.monitors.schedule import MAX_INTERVAL_S
from diagnosis.monitors.trend import METRICS, RATE_METRICS
from diagnosis.monitors.webhooks import KINDS

TIMEZONES = sorted(available_timezones())
_TRIMMED = AfterValidator(_trimmed_text)
Cron = Annotated[str, StringConstraints(max_length=100), _TRIMMED, _text_schema(100)]


def _known_zone(value: str) -> str:
    if value not in TIMEZONES:
        raise ValueError("unknown time zone (an IANA name such as Asia/Shanghai)")
    return value


TimeZone = Annotated[str, AfterValidator(_known_zone),
                     WithJsonSchema({"type": "string", "enum": TIMEZONES})]
IntervalS = Annotated[int, BeforeValidator(_json_integer), Field(ge=1, le=MAX_INTERVAL_S),
                      WithJsonSchema({"type": "integer", "minimum": 1,
                                      "maximum": MAX_INTERVAL_S})]
Metric = Literal[METRICS]  # type: ignore[valid-type]
# Strict: a JSON string or boolean is a wrong type here, as the schema says.
Points = Annotated[float, Strict(), Field(ge=0, le=100)]
Threshold = Annotated[float, Strict(), Field(ge=-1_000_000, le=1_000_000)]
Flag = Annotated[bool, Strict()]


# An http(s) URL in printable ASCII (percent-encode the rest), as the schema says.
_URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"


def _http_url(value: str) -> str:
    if not re.fullmatch(_URL_PATTERN, value):
        raise ValueError("must be an http or https URL in printable ASCII")
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if not parts.hostname or not port_ok:
        raise ValueError("must name a host and a port in 1..65535")
    return value


WebhookUrl = Annotated[
    str, StringConstraints(max_length=2000), AfterValidator(_http_url),
    WithJsonSchema({"type": "string", "maxLength": 2000, "pattern": _URL_PATTERN}),
]


class CronSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cron: Cron = Field(description="Five-field cron, e.g. `0 9 * * *` / cron 表达式")
    timezone: TimeZone = Field("UTC", description="IANA time zone / 时区")


class IntervalSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval_s: IntervalS = Field(
        description="Seconds between runs, at least DIAGNOSIS_MONITOR_MIN_INTERVAL_S / 间隔秒数")


ScheduleIn = CronSchedule | IntervalSchedule
_CONDITIONS = ("drop_points", "rise_points", "below", "above")


class AlertRule(BaseModel):
    """`metric` rules name one condition; `overtake` and `run_failed` take none."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["metric", "overtake", "run_failed"] = "metric"
    metric: Metric | None = None
    brand: Name | None = Field(None, description="Default: the own brand / 品牌")
    platform: PlatformName | None = Field(None, description="Default: all platforms / 平台")
    drop_points: Points | None = Field(None, description="Percentage points, significant only")
    rise_points: Points | None = Field(None, description="Percentage points, significant only")
    below: Threshold | None = Field(None, description="In the metric's own unit")
    above: Threshold | None = Field(None, description="In the metric's own unit")

    @model_validator(mode="after")
    def _one_condition(self) -> "AlertRule":
        given = [c for c in _CONDITIONS if getattr(self, c) is not None]
        if self.kind != "metric":
            if given or self.metric is not None or self.brand is not None:
                raise ValueError(f"a {self.kind} rule takes no metric, brand or condition")
            if self.kind == "run_failed" and self.platform is not None:
                raise ValueError("a run_failed rule takes no platform")
            return self
        if self.metric is None or len(given) != 1:
            raise ValueError("a metric rule needs `metric` and exactly one of "
                             + ", ".join(_CONDITIONS))
        if given[0] in ("drop_points", "rise_points") and self.metric not in RATE_METRICS:
            raise ValueError(f"{given[0]} needs a rate metric with a significance test: "
                             + ", ".join(RATE_METRICS))
        return self


Secret = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: WebhookUrl
    kind: Literal["generic", "wecom", "dingtalk", "feishu"] = "generic"
    secret: Secret | None = Field(
        None, description="HMAC key (generic), the robot's signing secret (dingtalk, feishu); "
                          "write-only / 签名密钥（只写）")


assert tuple(WebhookIn.model_fields["kind"].annotation.__args__) == KINDS  # type: ignore[union-attr]

_EXAMPLE = {
    "name": "蔚来 weekly",
    "diagnosis": CREATE_EXAMPLES["demo"]["value"],
    "schedule": {"cron": "0 9 * * 1", "timezone": "Asia/Shanghai"},
    "alerts": [{"metric": "mention_rate", "drop_points": 10}, {"kind": "overtake"},
               {"kind": "run_failed"}],
    "paused": False,
}


class MonitorCreate(BaseModel):
    """Ask a diagnosis again on a schedule / 定时监测."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})
    name: Name
    diagnosis: DiagnosisCreate
    schedule: ScheduleIn
    alerts: list[AlertRule] = Field(default_factory=list, max_length=20)
    webhook: WebhookIn | None = None
    paused: Flag = False


class MonitorPatch(BaseModel):
    """Only the fields sent change; `webhook: null` removes it; a webhook sent without
    `secret` keeps the stored one."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    diagnosis: DiagnosisCreate | None = None
    schedule: ScheduleIn | None = None
    alerts: list[AlertRule] | None = Field(None, max_length=20)
    webhook: WebhookIn | None = None
    paused: Flag | None = None


# --- responses ----------------------------------------------------------------------------


class CompetitorOut(BaseModel):
    name: str
    aliases: list[str]


class DiagnosisSpecOut(BaseModel):
    brand: str
    aliases: list[str]
    competitors: list[CompetitorOut]
    questions: list[str]
    platforms: list[str]
    samples: int
    deadline_s: int | None
    owner: str | None


class ScheduleOut(BaseModel):
    cron: str | None = None
    timezone: str | None = None
    interval_s: int | None = None


class AlertRuleOut(BaseModel):
    kind: str
    metric: str | None = None
    brand: str | None = None
    platform: str | None = None
    drop_points: float | None = None
    rise_points: float | None = None
    below: float | None = None
    above: float | None = None


class WebhookOut(BaseModel):
    url: str = Field(description="Credentials in the URL are masked / 已隐藏密钥")
    kind: str
    has_secret: bool


class MonitorOut(BaseModel):
    monitor_id: str
    name: str
    owner: str | None
    diagnosis: DiagnosisSpecOut
    schedule: ScheduleOut
    alerts: list[AlertRuleOut]
    webhook: WebhookOut | None
    paused: bool
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MonitorList(BaseModel):
    items: list[MonitorOut]
    total: int


class MonitorRunStarted(DiagnosisCreated):
    monitor_id: str
    scheduled_for: datetime


class RunOut(BaseModel):
    execution_id: str
    status: str
    scheduled_for: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunsPage(BaseModel):
    items: list[RunOut]
    total: int
    offset: int
    limit: int


class TrendBrand(BaseModel):
    name: str
    is_own: bool
    answers: int | None = None
    mentions: int | None = None
    mention_rate: float | None
    mention_rate_ci: list[float] | None = Field(
        None, description="95% Wilson interval, when samples > 1 / 置信区间")
    share_of_voice: float | None
    avg_rank: float | None
    top1_share: float | None
    sentiment_index: float | None
    visibility_score: float | None


class TrendPoint(BaseModel):
    execution_id: str
    status: str
    scheduled_for: datetime | None
    finished_at: datetime | None
    samples: int
    brands: list[TrendBrand]


class TrendOut(BaseModel):
    points: list[TrendPoint]


class ChangeOut(BaseModel):
    brand: str
    metric: str
    before: float | None
    after: float | None
    delta: float | None
    significant: bool
    test: str | None = Field(description="two_proportion_z for rates, else null")
    z: float | None
    p_value: float | None
    note: str | None


class ChangePair(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_execution_id: str
    to_execution_id: str
    from_scheduled_for: datetime | None
    to_scheduled_for: datetime | None
    is_break: bool = Field(alias="break", description="Question set or platforms changed")
    break_reason: str | None
    changes: list[ChangeOut]


class ChangesOut(BaseModel):
    items: list[ChangePair]
    method: str


class DeliveryOut(BaseModel):
    at: datetime
    http_status: int | None
    ok: bool


class AlertOut(BaseModel):
    alert_id: str
    rule: AlertRuleOut
    execution_id: str
    fired_at: datetime
    message: str
    status: Literal["pending", "delivered", "failed", "stored"]
    brand: str | None
    metric: str | None
    before: float | None
    after: float | None
    delta: float | None
    deliveries: list[DeliveryOut]


class AlertsPage(BaseModel):
    items: list[AlertOut]
    total: int
    offset: int
    limit: int


def rule_out(rule: dict[str, Any]) -> AlertRuleOut:
    return AlertRuleOut(**{"kind": "metric", **rule})
