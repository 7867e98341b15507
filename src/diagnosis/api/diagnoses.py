"""Routes of /api/diagnoses (SPEC 6): start, status, results, cancel, retry, history, report."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from diagnosis.api.deps import EngineDep, OwnerDep, RateLimitDep, start_key
from diagnosis.api.schemas import (
    CREATE_EXAMPLES,
    DiagnosisCreate,
    DiagnosisCreated,
    ErrorOut,
    ExecutionSummary,
    HistoryPage,
    ResultOut,
    ResultsPage,
    RetryRequest,
)
from diagnosis.engine.reports import REPORT_MEDIA_TYPES
from diagnosis.engine.service import Competitor, NewDiagnosis
from diagnosis.engine.views import ExecutionStatusView

router = APIRouter(prefix="/api/diagnoses", tags=["diagnoses / 诊断"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown execution / 诊断不存在"}
}
ExecutionId = Annotated[str, "execution id"]
# Every integer query parameter is bounded, so no value reaches the database as an overflow.
MAX_PAGE = 1_000_000
MAX_OFFSET = 100_000_000


def created_view(record: Any) -> DiagnosisCreated:
    eid = record.execution_id
    return DiagnosisCreated(
        execution_id=eid,
        status=record.status,
        total_tasks=record.total,
        status_url=f"/api/diagnoses/{eid}",
        events_url=f"/api/diagnoses/{eid}/events",
        report_url=f"/api/diagnoses/{eid}/report",
    )


def to_new_diagnosis(body: DiagnosisCreate, owner: str | None) -> NewDiagnosis:
    return NewDiagnosis(
        brand=body.brand,
        aliases=list(body.aliases),
        domains=list(body.domains),
        competitors=[
            Competitor(c.name, list(c.aliases), list(c.domains)) for c in body.competitors
        ],
        questions=list(body.questions),
        platforms=list(body.platforms),
        samples=body.samples,
        deadline_s=body.deadline_s,
        owner=owner if owner is not None else body.owner,
    )


@router.post(
    "",
    status_code=202,
    response_model=DiagnosisCreated,
    summary="Start a diagnosis / 发起诊断",
    responses={
        400: {"model": ErrorOut, "description": "Unknown or unconfigured platform / 平台不可用"},
        413: {"model": ErrorOut, "description": "Body over 64 KiB / 请求体过大"},
        422: {"model": ErrorOut, "description": "Invalid field or too many tasks / 参数错误"},
        429: {"model": ErrorOut, "description": "Too many starts / 发起过于频繁"},
    },
)
async def create_diagnosis(
    body: Annotated[DiagnosisCreate, Body(openapi_examples=CREATE_EXAMPLES)],
    request: Request, engine: EngineDep, owner: OwnerDep, limiter: RateLimitDep,
) -> DiagnosisCreated:
    """Ask every question on every chosen platform; answers 202 at once with the URLs to follow."""
    new = to_new_diagnosis(body, owner)
    engine.plan(new)  # 400 / 422 before the rate limit counts a start
    await limiter.hit(start_key(request, new.owner))
    record = await engine.create(new)
    return created_view(record)


@router.get(
    "", response_model=HistoryPage, summary="History, newest first / 历史记录",
)
async def list_diagnoses(
    engine: EngineDep, owner: OwnerDep,
    owner_filter: Annotated[str | None, Query(alias="owner", max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> HistoryPage:
    """Executions, newest first; with tokens on, only the caller's own."""
    who = owner if owner is not None else owner_filter
    records, total = await engine.history(who, page=page, limit=limit)
    return HistoryPage(
        items=[
            ExecutionSummary(
                execution_id=r.execution_id, brand=r.brand,
                competitors=[c["name"] for c in r.competitors or ()], platforms=r.platforms,
                owner=r.owner, status=r.status, stage=r.stage, progress=r.progress,
                total=r.total, completed=r.completed, failed=r.failed,
                created_at=r.created_at, finished_at=r.finished_at, retry_of=r.retry_of,
            )
            for r in records
        ],
        total=total, page=page, limit=limit,
    )


def _etag_matches(etag: str, if_none_match: str) -> bool:
    """RFC 9110 weak comparison: `*` matches, and W/"x" equals "x"."""
    def opaque(tag: str) -> str:
        tag = tag.strip()
        return tag[2:] if tag.startswith("W/") else tag

    candidates = [t for t in if_none_match.split(",") if t.strip()]
    return any(t.strip() == "*" or opaque(t) == opaque(etag) for t in candidates)


@router.get(
    "/{execution_id}",
    response_model=ExecutionStatusView,
    summary="Status / 诊断状态",
    responses={**NOT_FOUND, 304: {"description": "Not modified (ETag) / 无变化"}},
)
async def get_status(
    execution_id: ExecutionId, engine: EngineDep, owner: OwnerDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Progress from the database (the authority), compared with the live cache."""
    view = await engine.status(execution_id, owner)
    etag = f'W/"{view.seq}-{view.status.value}"'
    if if_none_match and _etag_matches(etag, if_none_match):
        return Response(status_code=304, headers={"ETag": etag})
    return JSONResponse(view.model_dump(mode="json"), headers={"ETag": etag})


@router.get(
    "/{execution_id}/results", response_model=ResultsPage, summary="Results / 结果",
    responses=NOT_FOUND,
)
async def get_results(
    execution_id: ExecutionId, engine: EngineDep, owner: OwnerDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ResultsPage:
    """Finished results with their analysis, in a stable order (question, platform, sample)."""
    rows, total = await engine.results(execution_id, owner, offset=offset, limit=limit)
    return ResultsPage(
        items=[ResultOut.model_validate(r, from_attributes=True) for r in rows],
        total=total, offset=offset, limit=limit,
    )


@router.post(
    "/{execution_id}/cancel", response_model=ExecutionStatusView, summary="Cancel / 取消",
    responses={**NOT_FOUND, 409: {"model": ErrorOut, "description": "Already ended / 已结束"}},
)
async def cancel(
    execution_id: ExecutionId, engine: EngineDep, owner: OwnerDep
) -> ExecutionStatusView:
    """Stop calls in flight; finished results are kept and analysed; status becomes cancelled."""
    return await engine.cancel(execution_id, owner)


@router.post(
    "/{execution_id}/retry", status_code=202, response_model=DiagnosisCreated,
    summary="Retry what was not ok / 重试失败项",
    responses={
        **NOT_FOUND, 409: {"model": ErrorOut, "description": "Not ended yet / 尚未结束"},
        422: {"model": ErrorOut, "description": "Invalid body or too many tasks / 参数错误"},
    },
)
async def retry(
    execution_id: ExecutionId, request: Request, engine: EngineDep, owner: OwnerDep,
    limiter: RateLimitDep, body: Annotated[RetryRequest | None, Body()] = None,
) -> DiagnosisCreated:
    """A NEW execution that copies the ok results and runs only the others; with
    `add_competitors` it also asks their `{brand}` questions and re-reads the copied answers."""
    await engine.status(execution_id, owner)  # 404 before the rate limit counts
    await limiter.hit(start_key(request, owner))
    added = [
        Competitor(c.name, list(c.aliases), list(c.domains))
        for c in (body.add_competitors if body else ())
    ]
    return created_view(await engine.retry(execution_id, owner, add_competitors=added))


@router.get(
    "/{execution_id}/report",
    summary="Report: json, md, csv or html / 报告",
    responses={**NOT_FOUND, 409: {"model": ErrorOut, "description": "Not ended yet / 尚未结束"},
               200: {"content": {t: {} for t in REPORT_MEDIA_TYPES.values()}}},
)
async def get_report(
    execution_id: ExecutionId, engine: EngineDep, owner: OwnerDep,
    format: Literal["json", "md", "csv", "html"] = "json",
) -> Response:
    """Mention rate, rank, tone, share of voice, gaps and sources, once the execution ended."""
    body = await engine.report(execution_id, owner, format)
    if format == "json":
        return JSONResponse(body)
    headers = {}
    if format in ("csv", "md"):
        headers["Content-Disposition"] = f'attachment; filename="diagnosis-{execution_id}.{format}"'
    return Response(body, media_type=REPORT_MEDIA_TYPES[format], headers=headers)
