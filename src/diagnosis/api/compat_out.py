"""What the mini-program's routes answer (SPEC 6), as typed models, so /docs describes them.

The field names are the old client's (brand, model, aiModel, response, geo_data ...); the values
come from our results and report. Models only: the translation lives in compat_vocabulary.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from diagnosis.api.schemas import ResultOut

ClientStatus = Literal[
    "initializing", "ai_fetching", "analyzing", "completed", "partial_completed", "failed"
]
ClientStage = Literal["init", "ai_fetching", "analyzing", "completed", "failed"]
Grade = Literal["A", "B", "C", "D", "E"]


class CompatError(BaseModel):
    """Every refusal of these routes: the client reads `error`; `detail` is the same text."""

    model_config = ConfigDict(extra="allow")
    status: Literal["error"] = "error"
    error: str = Field(description="What went wrong / 错误说明")
    detail: str = Field(description="The same text, for generic HTTP clients")
    available_models: list[str] | None = Field(
        None, description="Models usable now (400 on an unknown model) / 可用模型"
    )


class ConnectionCheck(BaseModel):
    status: Literal["ok"] = "ok"
    message: str
    service: str
    version: str


class BrandTestStarted(BaseModel):
    status: Literal["success"] = "success"
    execution_id: str
    task_id: str = Field(description="The same as execution_id / 同 execution_id")
    total_tasks: int
    message: str
    status_url: str
    stream_url: str


class GeoData(BaseModel):
    """What the answer says about the row's brand, read from the answer text (SPEC 8)."""

    brand_mentioned: bool
    rank: int = Field(description="1-based rank; -1 when not ranked or not mentioned / 排名")
    sentiment: float = Field(
        ge=-1, le=1, description="1 positive, 0 neutral, -1 negative (0 when not mentioned)"
    )
    competitors_mentioned: list[str] = Field(
        description="Other tracked brands the answer names, in order of first mention"
    )


class MiniProgramResult(ResultOut):
    """One task's result: SPEC 3's fields plus the old client's names for them."""

    platform_name: str
    brand: str = Field(description="The `{brand}` subject, else the own brand / 品牌")
    model: str = Field(description="The model id as the mini-program names it / 模型")
    aiModel: str = Field(description="The same as model")
    response: str = Field(description="The answer ('' when there is none) / 回答")
    error_type: str | None = Field(description="The error kind / 错误类型")
    geo_data: GeoData | None = Field(description="Null for a task without an analysed answer")
    score: float | None = Field(
        description="This answer's visibility score for `brand` (0-100, docs/metrics.md)"
    )


class StatusBrief(BaseModel):
    """A `since` answer when nothing changed: no result is read."""

    task_id: str
    has_updates: bool
    progress: int
    status: ClientStatus
    stage: ClientStage
    execution_status: str = Field(description="Our status (SPEC 3) / 原始状态")
    execution_stage: str = Field(description="Our stage (SPEC 3) / 原始阶段")
    is_completed: bool
    should_stop_polling: bool
    seq: int


class TaskStatusOut(StatusBrief):
    """A full poll answer."""

    execution_id: str
    brand: str
    results: list[dict[str, Any]] = Field(
        description="Per-brand summary, own brand first (README: Polling) / 品牌汇总"
    )
    detailed_results: list[MiniProgramResult]
    created_at: datetime | None
    updated_at: datetime | None
    source: Literal["database", "cache"]
    cache_sync_status: Literal["synced", "out_of_sync", "cache_miss", "unknown"]
    error: str | None


class BrandScore(BaseModel):
    """One brand's scores in the old report's names, from our brand metrics (0-100 scales)."""

    isOwn: bool
    overallScore: int = Field(description="The visibility score, rounded / 可见度评分")
    overallGrade: Grade = Field(description="A >= 80, B >= 60, C >= 40, D >= 20, else E")
    overallVisibility: int = Field(description="Mention rate in percent / 提及率")
    overallSentiment: int | None = Field(
        description="Sentiment index mapped to 0-100 (50 = neutral); null when none"
    )
    overallAuthority: None = Field(None, description="Not measured: see the README")
    overallPurity: None = Field(None, description="Not measured: see the README")
    overallConsistency: None = Field(None, description="Not measured: see the README")
    overallSummary: str
    visibilityScore: float | None
    mentionRate: float
    avgRank: float | None
    top1Share: float
    shareOfVoice: float | None
    sentimentIndex: float | None


class CompetitiveAnalysis(BaseModel):
    brandScores: dict[str, BrandScore]


class MiniProgramReport(BaseModel):
    execution_id: str
    brand_name: str
    status: ClientStatus
    stage: ClientStage
    execution_status: str
    is_completed: bool
    results: list[MiniProgramResult]
    detailed_results: list[MiniProgramResult] = Field(description="The same rows as results")
    competitive_analysis: CompetitiveAnalysis
    brands: list[dict[str, Any]] = Field(description="Our report's brand metrics (SPEC 8)")
    total_tasks: int
    completed_tasks: int = Field(description="Tasks that ended ok / 成功的任务数")
    failed_tasks: int
    completion_rate: int = Field(description="ok tasks in percent of all / 完成率")
    selected_models: list[str]
    custom_questions: list[str]
    created_at: datetime | None
    completed_at: datetime | None
    error: str | None


class HistoryReport(BaseModel):
    id: str
    execution_id: str
    brand_name: str
    competitors: list[str]
    status: ClientStatus
    execution_status: str
    progress: int
    created_at: datetime | None
    completed_at: datetime | None
    overall_score: int | None = Field(
        description="The own brand's overallScore once ended, else null / 综合评分"
    )


class Pagination(BaseModel):
    page: int
    limit: int
    total: int
    has_more: bool


class MiniProgramHistory(BaseModel):
    reports: list[HistoryReport]
    pagination: Pagination
