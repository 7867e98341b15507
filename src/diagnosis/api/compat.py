"""The WeChat mini-program's routes (SPEC 6): its main flow (connection check, start, poll,
stream, results page, history) in the field names and status vocabulary its client reads.

The same engine underneath as /api/diagnoses: the same validation limits, start-rate limit,
owner isolation and status read; the translation lives in compat_vocabulary. Errors keep the
client's shape {status: "error", error, ...}. Never changes /api/diagnoses' vocabulary.
"""

import json
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.exceptions import HTTPException as StarletteHTTPException

from diagnosis import __version__
from diagnosis.api.compat_out import (
    BrandTestStarted,
    CompatError,
    CompetitiveAnalysis,
    ConnectionCheck,
    HistoryReport,
    MiniProgramHistory,
    MiniProgramReport,
    MiniProgramResult,
    Pagination,
    StatusBrief,
    TaskStatusOut,
)
from diagnosis.api.compat_schemas import (
    SINCE_PATTERN,
    BrandTestRequest,
    parse_since,
    to_new_diagnosis,
)
from diagnosis.api.compat_vocabulary import (
    brand_scores,
    client_model_id,
    client_status,
    in_client_words,
    legacy_row,
    live_brand_summary,
    own_score,
)
from diagnosis.api.deps import EngineDep, OwnerDep, RateLimitDep, SettingsDep, start_key
from diagnosis.api.errors import database_unavailable, validation_detail
from diagnosis.api.events import execution_events
from diagnosis.api.schemas import ErrorOut
from diagnosis.engine.errors import DiagnosisError, NotFound
from diagnosis.engine.service import Engine
from diagnosis.engine.views import ExecutionStatusView

log = logging.getLogger("diagnosis.api.compat")


def compat_error(status_code: int, message: str, *, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> JSONResponse:
    body = {"status": "error", "error": message, "detail": message, **extra}
    if "available_platforms" in extra:
        body.setdefault("available_models", extra["available_platforms"])
    return JSONResponse(body, status_code=status_code, headers=headers)


class CompatRoute(APIRoute):
    """Renders this router's refusals in the mini-program's error shape; other routers keep
    the API's `detail` shape from the one error handler."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def compat_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                detail, errors = validation_detail(exc)
                return compat_error(422, detail, errors=errors)
            except DiagnosisError as exc:
                extra = dict(exc.extra)
                headers = None
                if "retry_after" in extra:
                    headers = {"Retry-After": str(extra["retry_after"])}
                return compat_error(exc.status_code, exc.detail, headers=headers, **extra)
            except StarletteHTTPException as exc:  # e.g. a body that is not UTF-8 (400)
                return compat_error(exc.status_code, str(exc.detail), headers=exc.headers)
            except SQLAlchemyError as exc:
                unavailable = database_unavailable(request, exc)
                if unavailable is None:
                    raise  # a bug: the app's handler answers 500 without internals
                detail, headers = unavailable
                return compat_error(503, detail, headers=headers)

        return compat_handler


router = APIRouter(tags=["mini-program / 小程序"], route_class=CompatRoute)


def _error(description: str) -> dict[str, Any]:
    return {"model": CompatError, "description": description}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("Token missing or invalid / 未授权"),
    404: _error("Unknown execution, or another owner's / 诊断不存在"),
    422: _error("Invalid parameter / 参数错误"),
    503: _error("The database is unavailable; see Retry-After / 数据库暂不可用"),
}
# Every integer query parameter is bounded: no value reaches the database as an overflow.
MAX_PAGE = 1_000_000  # as on /api/diagnoses (docs/engine.md)
MAX_LIMIT = 100
# The client sends its WeChat openid in this header; it files executions when tokens are off.
OpenidHeader = Annotated[str | None, Header(alias="X-User-OpenID", max_length=100,
                                            include_in_schema=False)]


@router.get(
    "/api/test",
    response_model=ConnectionCheck,
    summary="Connection check (mini-program) / 连接检查",
)
async def connection_check() -> ConnectionCheck:
    """Open even when tokens are on, like /health: the home page calls it without a token."""
    return ConnectionCheck(
        message="品牌诊断服务已连接 / brand diagnosis service is up",
        service="brand-diagnosis", version=__version__,
    )


@router.post(
    "/api/perform-brand-test",
    response_model=BrandTestStarted,
    summary="Start a diagnosis (mini-program) / 小程序发起检测",
    responses={
        400: _error("Unknown or unconfigured model (with available_models), or a body that "
                    "cannot be read / 模型不可用或请求体无法解析"),
        413: {"model": ErrorOut, "description": "Body over 64 KiB / 请求体过大"},
        422: _error("Invalid field or too many tasks / 参数错误"),
        429: _error("Too many starts; see Retry-After / 发起过于频繁"),
        **{code: ERRORS[code] for code in (401, 503)},
    },
)
async def perform_brand_test(
    body: BrandTestRequest, request: Request, engine: EngineDep, owner: OwnerDep,
    limiter: RateLimitDep, openid: OpenidHeader = None,
) -> BrandTestStarted:
    """brand_list + selectedModels + questions -> {status: "success", execution_id, message}."""
    configured = sorted(engine.registry.configured_ids())
    new = to_new_diagnosis(body, owner, available_models=configured, header_openid=openid)
    engine.plan(new)  # 400 with available_models, 422 too many tasks: before the rate limit
    await limiter.hit(start_key(request, new.owner))
    record = await engine.create(new)
    eid = str(record.execution_id)
    return BrandTestStarted(
        execution_id=eid,
        task_id=eid,
        total_tasks=record.total,
        message=f"诊断已开始，共 {record.total} 个任务 / started with {record.total} tasks",
        status_url=f"/test/status/{eid}",
        stream_url=f"/api/stream/progress/{eid}",
    )


# -- status -------------------------------------------------------------------------------

def changed_since(view: ExecutionStatusView, since: int | datetime) -> bool:
    if isinstance(since, int):
        return view.seq > since
    if view.updated_at is None:
        return True
    updated = view.updated_at if view.updated_at.tzinfo else view.updated_at.replace(tzinfo=UTC)
    return updated > since


def brief_status(view: ExecutionStatusView) -> dict[str, Any]:
    """The poll's core fields, in the client's vocabulary (ours in execution_status/_stage)."""
    return in_client_words({
        "task_id": view.execution_id,
        "progress": view.progress,
        "stage": view.stage,
        "status": view.status.value,
        "seq": view.seq,
    })


async def brand_summary(
    engine: Engine, view: ExecutionStatusView, owner: str | None, rows: Sequence[Any]
) -> list[dict[str, Any]]:
    """The stored report's brands once terminal; a live summary of the results so far before
    (or if the report could not be built)."""
    if view.is_completed:
        report = await engine.report(view.execution_id, owner, "json")
        if report and report.get("brands"):
            return list(report["brands"])
    record = await engine.repository.get_execution(view.execution_id, owner)
    if record is None:
        raise NotFound("execution not found")
    brands = [(spec.name, spec.is_own) for spec in engine.brands_of(record)]
    return live_brand_summary(brands, rows)


def legacy_rows(engine: Engine, view: ExecutionStatusView, rows: Sequence[Any]
                ) -> list[MiniProgramResult]:
    brands = [view.brand, *(c.name for c in view.competitors)]
    names = engine.runtimes.display_names()
    return [legacy_row(row, own_brand=view.brand, brands=brands, display_names=names)
            for row in rows]


@router.get(
    "/test/status/{execution_id}",
    response_model=TaskStatusOut | StatusBrief,
    summary="Status with results (mini-program polling) / 小程序轮询状态",
    responses=ERRORS,
)
async def test_status(
    execution_id: str, engine: EngineDep, owner: OwnerDep,
    since: Annotated[str | None, Query(
        max_length=64, pattern=SINCE_PATTERN,
        description="The last seq seen, or an ISO 8601 timestamp / 上次的 seq 或时间",
    )] = None,
) -> TaskStatusOut | StatusBrief:
    """Status, per-brand summary and per-task results; with `since`, a cheap has_updates=false
    answer when nothing changed. status/stage in the mini-program's words."""
    view = await engine.status(execution_id, owner)
    moment = parse_since(since)
    if moment is not None and not changed_since(view, moment):
        return StatusBrief(**brief_status(view), has_updates=False)
    rows, _ = await engine.results(execution_id, owner, offset=0, limit=max(view.total, 1))
    return TaskStatusOut(
        **brief_status(view),
        execution_id=view.execution_id,
        brand=view.brand,
        results=await brand_summary(engine, view, owner, rows),
        detailed_results=legacy_rows(engine, view, rows),
        created_at=view.created_at,
        updated_at=view.updated_at,
        has_updates=True,
        source=view.source,
        cache_sync_status=view.cache_sync_status,
        error=view.error,
    )


# -- results page and history --------------------------------------------------------------


@router.get(
    "/api/diagnosis/report/{execution_id}",
    response_model=MiniProgramReport,
    summary="Report in the old shape (mini-program results page) / 小程序报告",
    responses={**ERRORS, 409: _error("The execution has not ended yet / 诊断尚未结束")},
)
async def diagnosis_report(
    execution_id: str, engine: EngineDep, owner: OwnerDep,
) -> MiniProgramReport:
    """results[], competitive_analysis.brandScores, counts and the run's settings; 409 until
    the execution ends."""
    report = await engine.report(execution_id, owner, "json")  # 404, then 409 until terminal
    view = await engine.status(execution_id, owner)
    rows, _ = await engine.results(execution_id, owner, offset=0, limit=max(view.total, 1))
    return old_report(engine, view, report, rows)


def old_report(engine: Engine, view: ExecutionStatusView, report: dict[str, Any],
               rows: Sequence[Any]) -> MiniProgramReport:
    words = brief_status(view)
    results = legacy_rows(engine, view, rows)
    brands = list(report.get("brands") or ())
    return MiniProgramReport(
        execution_id=view.execution_id,
        brand_name=view.brand,
        status=words["status"],
        stage=words["stage"],
        execution_status=view.status.value,
        is_completed=words["is_completed"],
        results=results,
        detailed_results=results,
        competitive_analysis=CompetitiveAnalysis(brandScores=brand_scores(brands)),
        brands=brands,
        total_tasks=view.total,
        completed_tasks=view.completed,
        failed_tasks=view.failed,
        completion_rate=100 * view.completed // view.total if view.total else 0,
        selected_models=[client_model_id(p.platform) for p in view.platforms],
        custom_questions=list(view.questions),
        created_at=view.created_at,
        completed_at=view.finished_at,
        error=view.error,
    )


@router.get(
    "/api/diagnosis/history",
    response_model=MiniProgramHistory,
    summary="History in the old shape (mini-program) / 小程序历史记录",
    responses={code: ERRORS[code] for code in (401, 422, 503)},
)
async def diagnosis_history(
    engine: EngineDep, owner: OwnerDep, openid: OpenidHeader = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based / 页码")] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Per page / 每页数量")] = 20,
) -> MiniProgramHistory:
    """The caller's executions, newest first: with tokens on the token owner's; when open,
    those filed under the X-User-OpenID header's openid, or all without it."""
    who = owner if owner is not None else ((openid or "").strip() or None)
    records, total = await engine.history(who, page=page, limit=limit)
    return MiniProgramHistory(
        reports=[history_report(r) for r in records],
        pagination=Pagination(page=page, limit=limit, total=total,
                              has_more=page * limit < total),
    )


def history_report(record: Any) -> HistoryReport:
    eid = str(record.execution_id)
    return HistoryReport(
        id=eid,
        execution_id=eid,
        brand_name=record.brand,
        competitors=[c["name"] for c in record.competitors or ()],
        status=client_status(record.status, record.stage),
        execution_status=record.status,
        progress=record.progress,
        created_at=record.created_at,
        completed_at=record.finished_at,
        overall_score=own_score(record.report),
    )


# -- SSE ----------------------------------------------------------------------------------


def _data(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, default=str)


async def miniprogram_events(
    engine: Engine, execution_id: str, owner: str | None
) -> AsyncIterator[ServerSentEvent | bytes]:
    """connected {task_id}, then progress / complete carrying {task_id, progress, stage,
    status, is_completed} and the whole status; `error` ends the stream when it breaks."""
    yield ServerSentEvent(_data({"task_id": execution_id}), event="connected")
    try:
        async for event in execution_events(
            engine, execution_id, owner, dialect="miniprogram", with_tasks=False,
            shape=lambda status: in_client_words({"task_id": execution_id, **status}),
        ):
            yield event
    except DiagnosisError as exc:
        log.info("mini-program stream error execution_id=%s error=%s", execution_id, exc.detail)
        yield ServerSentEvent(
            _data({"task_id": execution_id, "status": "error", "error": exc.detail}), event="error"
        )
    except Exception:
        log.exception("mini-program stream failed execution_id=%s", execution_id)
        yield ServerSentEvent(
            _data({"task_id": execution_id, "status": "error", "error": "internal error"}),
            event="error",
        )


@router.get(
    "/api/stream/progress/{execution_id}",
    summary="Live progress, mini-program events (SSE) / 小程序实时进度",
    response_class=EventSourceResponse,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}},
                               "description": "events: connected, progress, complete, error"}},
)
async def stream_progress(
    execution_id: str, engine: EngineDep, owner: OwnerDep, settings: SettingsDep,
) -> EventSourceResponse:
    """Server-Sent Events: connected, progress (id=seq), complete, error."""
    await engine.status(execution_id, owner)  # 404 / 401 before the stream opens
    return EventSourceResponse(
        miniprogram_events(engine, execution_id, owner),
        ping=int(settings.sse_keepalive_s) or 15,
        send_timeout=30,
    )
