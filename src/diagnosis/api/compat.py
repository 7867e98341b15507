"""The WeChat mini-program's routes (SPEC 6), with the field names its client already uses.

The same engine underneath as /api/diagnoses: the same validation limits, start-rate limit,
owner isolation and status read. Errors keep the client's shape {status: "error", error, ...}.
"""

import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sse_starlette import EventSourceResponse, ServerSentEvent

from diagnosis.api.compat_schemas import BrandTestRequest, CompatInvalid, to_new_diagnosis
from diagnosis.api.deps import EngineDep, OwnerDep, RateLimitDep, SettingsDep, start_key
from diagnosis.api.errors import validation_detail
from diagnosis.api.events import execution_events
from diagnosis.api.schemas import ResultOut
from diagnosis.engine.errors import DiagnosisError, NotFound
from diagnosis.engine.service import Engine
from diagnosis.engine.views import ExecutionStatusView

log = logging.getLogger("diagnosis.api.compat")


def compat_error(status_code: int, message: str, *, headers: dict[str, str] | None = None,
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

        return compat_handler


router = APIRouter(tags=["mini-program / 小程序"], route_class=CompatRoute)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Token missing or invalid / 未授权"},
    404: {"description": "Unknown execution / 诊断不存在"},
}


@router.post(
    "/api/perform-brand-test",
    summary="Start a diagnosis (mini-program) / 小程序发起检测",
    responses={
        400: {"description": "Unknown or unconfigured model, with available_models / 模型不可用"},
        413: {"description": "Body over 64 KiB / 请求体过大"},
        422: {"description": "Invalid field or too many tasks / 参数错误"},
        429: {"description": "Too many starts; see Retry-After / 发起过于频繁"},
        **ERRORS,
    },
)
async def perform_brand_test(
    body: BrandTestRequest, request: Request, engine: EngineDep, owner: OwnerDep,
    limiter: RateLimitDep,
) -> dict[str, Any]:
    """brand_list + selectedModels + questions -> {status: "success", execution_id, message}."""
    configured = sorted(engine.registry.configured_ids())
    new = to_new_diagnosis(body, owner, available_models=configured)
    engine.plan(new)  # 400 with available_models, 422 too many tasks: before the rate limit
    limiter.check(start_key(request, new.owner))
    record = await engine.create(new)
    eid = str(record.execution_id)
    return {
        "status": "success",
        "execution_id": eid,
        "task_id": eid,
        "total_tasks": record.total,
        "message": f"诊断已开始，共 {record.total} 个任务 / started with {record.total} tasks",
        "status_url": f"/test/status/{eid}",
        "stream_url": f"/api/stream/progress/{eid}",
    }


# -- status -------------------------------------------------------------------------------

_TZ_AT_END = re.compile(r" (\d{2}:?\d{2})$")


def parse_since(since: str) -> int | datetime:
    """A seq number, or an ISO timestamp (naive = UTC; a '+' that a query turned into a space
    is put back)."""
    text = since.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(_TZ_AT_END.sub(r"+\1", text))
    except ValueError:
        raise CompatInvalid("since must be a seq number or an ISO 8601 timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def changed_since(view: ExecutionStatusView, since: int | datetime) -> bool:
    if isinstance(since, int):
        return view.seq > since
    if view.updated_at is None:
        return True
    updated = view.updated_at if view.updated_at.tzinfo else view.updated_at.replace(tzinfo=UTC)
    return updated > since


def brief_status(view: ExecutionStatusView) -> dict[str, Any]:
    return {
        "task_id": view.execution_id,
        "progress": view.progress,
        "stage": view.stage,
        "status": view.status.value,
        "is_completed": view.is_completed,
        "should_stop_polling": view.should_stop_polling,
        "seq": view.seq,
    }


def live_brand_summary(
    brands: Sequence[tuple[str, bool]], results: Sequence[Any]
) -> list[dict[str, Any]]:
    """Per brand over the ok answers so far: answers mentioning it and the mention rate."""
    ok = [r for r in results if r.status == "ok"]
    summary = []
    for name, is_own in brands:
        mentions = sum(
            1 for r in ok
            if any(m.get("brand") == name for m in (r.analysis or {}).get("mentions", ()))
        )
        summary.append({
            "name": name, "is_own": is_own, "answers": len(ok), "mentions": mentions,
            "mention_rate": round(mentions / len(ok), 4) if ok else 0.0,
        })
    return summary


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


@router.get(
    "/test/status/{execution_id}",
    summary="Status with results (mini-program polling) / 小程序轮询状态",
    responses=ERRORS,
)
async def test_status(
    execution_id: str, engine: EngineDep, owner: OwnerDep,
    since: Annotated[str | None, Query(max_length=64, description="seq or ISO timestamp")] = None,
) -> dict[str, Any]:
    """Status, per-brand summary and per-task results; with `since`, a cheap has_updates=false
    answer when nothing changed."""
    view = await engine.status(execution_id, owner)
    if since is not None and not changed_since(view, parse_since(since)):
        return {**brief_status(view), "has_updates": False}
    rows, _ = await engine.results(execution_id, owner, offset=0, limit=max(view.total, 1))
    names = engine.runtimes.display_names()
    detailed = []
    for row in rows:
        item = ResultOut.model_validate(row, from_attributes=True).model_dump(mode="json")
        item["platform_name"] = names.get(row.platform, row.platform)
        detailed.append(item)
    return {
        **brief_status(view),
        "execution_id": view.execution_id,
        "brand": view.brand,
        "results": await brand_summary(engine, view, owner, rows),
        "detailed_results": detailed,
        "created_at": _iso(view.created_at),
        "updated_at": _iso(view.updated_at),
        "has_updates": True,
        "source": view.source,
        "cache_sync_status": view.cache_sync_status,
        "error": view.error,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


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
            shape=lambda status: {"task_id": execution_id, **status},
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
