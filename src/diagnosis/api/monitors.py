"""Routes of /api/monitors (SPEC 12): create, list, read, change, delete, run now, and a
monitor's runs, trend, changes and alerts. Thin: the monitors' service does the work."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from diagnosis.api.deps import OwnerDep, RateLimitDep, start_key
from diagnosis.api.diagnoses import created_view
from diagnosis.api.monitor_schemas import (
    AlertOut,
    AlertsPage,
    ChangePair,
    ChangesOut,
    MonitorCreate,
    MonitorList,
    MonitorOut,
    MonitorPatch,
    MonitorRunStarted,
    RunOut,
    RunsPage,
    TrendOut,
    TrendPoint,
    WebhookIn,
    rule_out,
)
from diagnosis.api.schemas import ErrorOut
from diagnosis.engine.errors import Conflict
from diagnosis.monitors.service import MonitorService
from diagnosis.monitors.statistics import Z_95
from diagnosis.monitors.webhooks import redacted_url
from diagnosis.persistence.monitor_repository import AlertRecord, MonitorRecord
from diagnosis.persistence.records import SlotTaken

router = APIRouter(prefix="/api/monitors", tags=["monitors / 监测"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown monitor / 监测不存在"}
}
CHECKED: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Unknown or unconfigured platform / 平台不可用"},
    422: {"model": ErrorOut,
          "description": "Invalid field, schedule (never fires, too frequent) or too many tasks"},
}
METHOD = (
    "two-proportion z-test (pooled), two-sided at 95% (|z| > "
    f"{Z_95}) for mention_rate, top1_share and share_of_voice; other metrics are not tested; "
    "never significant when a run has one sample per question (docs/monitors.md)"
)
MAX_OFFSET = 100_000_000
MonitorId = Annotated[str, "monitor id"]
PlatformQuery = Annotated[str | None, Query(max_length=100, description="Platform id or name")]
BrandQuery = Annotated[str | None, Query(max_length=100)]
RunsLimit = Annotated[int, Query(ge=1, le=500)]


async def get_monitors(request: Request) -> MonitorService:
    return request.app.state.monitors.service  # type: ignore[no-any-return]


MonitorsDep = Annotated[MonitorService, Depends(get_monitors)]


def monitor_out(record: MonitorRecord) -> MonitorOut:
    webhook = record.webhook
    return MonitorOut.model_validate({
        "monitor_id": record.monitor_id, "name": record.name, "owner": record.owner,
        "diagnosis": {"aliases": [], "competitors": [], "questions": [], "samples": 1,
                      "deadline_s": None, "owner": None, **record.diagnosis},
        "schedule": record.schedule, "alerts": [rule_out(r) for r in record.alerts],
        "webhook": None if not webhook else {
            "url": redacted_url(webhook["kind"], webhook["url"]), "kind": webhook["kind"],
            "has_secret": bool(webhook.get("secret")),
        },
        "paused": record.paused, "next_run_at": record.next_run_at,
        "created_at": record.created_at, "updated_at": record.updated_at,
    })


def _webhook(body: WebhookIn | None, current: dict[str, Any] | None = None) -> Any:
    if body is None:
        return None
    stored = body.model_dump()
    if "secret" not in body.model_fields_set and current:
        stored["secret"] = current.get("secret")  # a webhook sent without a secret keeps it
    return stored


def _rules(rules: list[Any]) -> list[dict[str, Any]]:
    return [r.model_dump(exclude_none=True) for r in rules]


@router.post("", status_code=201, response_model=MonitorOut, summary="Create a monitor / 新建监测",
             responses=CHECKED)
async def create_monitor(
    body: Annotated[MonitorCreate, Body()], monitors: MonitorsDep, owner: OwnerDep,
) -> MonitorOut:
    """Validate the diagnosis like POST /api/diagnoses, store the monitor, schedule its slots."""
    record = await monitors.create(
        owner=owner, name=body.name, diagnosis=body.diagnosis.model_dump(),
        schedule=body.schedule.model_dump(), alerts=_rules(body.alerts),
        webhook=_webhook(body.webhook), paused=body.paused,
    )
    return monitor_out(record)


@router.get("", response_model=MonitorList, summary="Monitors / 监测列表")
async def list_monitors(monitors: MonitorsDep, owner: OwnerDep) -> MonitorList:
    """Every monitor, newest first; with tokens on, only the caller's own."""
    records = await monitors.list_monitors(owner)
    return MonitorList(items=[monitor_out(r) for r in records], total=len(records))


@router.get("/{monitor_id}", response_model=MonitorOut, summary="A monitor / 监测详情",
            responses=NOT_FOUND)
async def get_monitor(monitor_id: MonitorId, monitors: MonitorsDep, owner: OwnerDep) -> MonitorOut:
    """The monitor with its next slot; never the webhook's secret."""
    return monitor_out(await monitors.get(monitor_id, owner))


@router.patch("/{monitor_id}", response_model=MonitorOut, summary="Change a monitor / 修改监测",
              responses={**NOT_FOUND, **CHECKED})
async def patch_monitor(
    monitor_id: MonitorId, body: MonitorPatch, monitors: MonitorsDep, owner: OwnerDep,
) -> MonitorOut:
    """Change the name, diagnosis, schedule, alerts, webhook or paused; only the fields sent."""
    current = await monitors.get(monitor_id, owner)
    changes: dict[str, Any] = {}
    sent = body.model_fields_set
    if "name" in sent and body.name is not None:
        changes["name"] = body.name
    if "diagnosis" in sent and body.diagnosis is not None:
        changes["diagnosis"] = body.diagnosis.model_dump()
    if "schedule" in sent and body.schedule is not None:
        changes["schedule"] = body.schedule.model_dump()
    if "alerts" in sent and body.alerts is not None:
        changes["alerts"] = _rules(body.alerts)
    if "webhook" in sent:
        changes["webhook"] = _webhook(body.webhook, current.webhook)
    if "paused" in sent and body.paused is not None:
        changes["paused"] = body.paused
    return monitor_out(await monitors.update(monitor_id, owner, changes))


@router.delete("/{monitor_id}", status_code=204, summary="Delete a monitor / 删除监测",
               responses={**NOT_FOUND, 204: {"description": "Deleted; its runs stay / 已删除"}})
async def delete_monitor(monitor_id: MonitorId, monitors: MonitorsDep, owner: OwnerDep) -> Response:
    """The monitor and its alerts go; its runs stay as ordinary executions."""
    await monitors.delete(monitor_id, owner)
    return Response(status_code=204)


@router.post("/{monitor_id}/run", status_code=202, response_model=MonitorRunStarted,
             summary="Run now / 立即运行",
             responses={**NOT_FOUND, **CHECKED,
                        409: {"model": ErrorOut, "description": "Slot taken / 时段已有运行"},
                        429: {"model": ErrorOut, "description": "Too many starts / 发起过于频繁"}})
async def run_monitor(
    monitor_id: MonitorId, request: Request, monitors: MonitorsDep, owner: OwnerDep,
    limiter: RateLimitDep,
) -> MonitorRunStarted:
    """A run outside the schedule: a normal execution with this monitor_id."""
    monitor = await monitors.get(monitor_id, owner)
    await limiter.hit(start_key(request, owner))
    try:
        record = await monitors.run_slot(monitor, monitors.clock())
    except SlotTaken as exc:
        raise Conflict("a run of this monitor already fills this instant; retry") from exc
    return MonitorRunStarted(
        **created_view(record).model_dump(), monitor_id=monitor_id,
        scheduled_for=record.scheduled_for,
    )


@router.get("/{monitor_id}/runs", response_model=RunsPage, summary="Runs / 运行记录",
            responses=NOT_FOUND)
async def list_runs(
    monitor_id: MonitorId, monitors: MonitorsDep, owner: OwnerDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RunsPage:
    """The monitor's executions, newest slot first."""
    runs, total = await monitors.runs(monitor_id, owner, offset=offset, limit=limit)
    return RunsPage(items=[RunOut(
        execution_id=r.execution_id, status=r.status, scheduled_for=r.scheduled_for,
        created_at=r.created_at, started_at=r.started_at, finished_at=r.finished_at,
    ) for r in runs], total=total, offset=offset, limit=limit)


@router.get("/{monitor_id}/trend", response_model=TrendOut, summary="Trend / 趋势",
            responses=NOT_FOUND)
async def get_trend(
    monitor_id: MonitorId, monitors: MonitorsDep, owner: OwnerDep,
    platform: PlatformQuery = None, brand: BrandQuery = None, limit: RunsLimit = 100,
) -> TrendOut:
    """Each ended run's brand metrics from its stored report, oldest first; per platform
    when asked."""
    points = await monitors.trend(monitor_id, owner, platform=platform, brand=brand, limit=limit)
    return TrendOut(points=[TrendPoint.model_validate(p) for p in points])


@router.get("/{monitor_id}/changes", response_model=ChangesOut, summary="Changes / 变化",
            responses=NOT_FOUND)
async def get_changes(
    monitor_id: MonitorId, monitors: MonitorsDep, owner: OwnerDep,
    platform: PlatformQuery = None, brand: BrandQuery = None, limit: RunsLimit = 100,
) -> ChangesOut:
    """Consecutive runs compared per brand and metric, newest first; a changed question set
    or platform list is a break."""
    pairs = await monitors.changes(monitor_id, owner, platform=platform, brand=brand,
                                   limit=limit)
    return ChangesOut(items=[ChangePair.model_validate(p) for p in pairs], method=METHOD)


def alert_out(alert: AlertRecord) -> AlertOut:
    d = alert.details
    return AlertOut.model_validate({
        "alert_id": alert.alert_id, "rule": rule_out(alert.rule),
        "execution_id": alert.execution_id, "fired_at": alert.fired_at,
        "message": alert.message, "status": alert.status,
        "brand": d.get("brand"), "metric": d.get("metric"), "before": d.get("before"),
        "after": d.get("after"), "delta": d.get("delta"), "deliveries": alert.deliveries,
    })


@router.get("/{monitor_id}/alerts", response_model=AlertsPage, summary="Alerts / 告警",
            responses=NOT_FOUND)
async def list_alerts(
    monitor_id: MonitorId, monitors: MonitorsDep, owner: OwnerDep,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AlertsPage:
    """Every firing, newest first, with each webhook delivery try."""
    alerts, total = await monitors.alerts(monitor_id, owner, offset=offset, limit=limit)
    return AlertsPage(items=[alert_out(a) for a in alerts], total=total, offset=offset,
                      limit=limit)


def document(app: Any, *, min_interval_s: int) -> None:
    """The OpenAPI document states this server's DIAGNOSIS_MONITOR_MIN_INTERVAL_S as the
    interval's minimum (a shorter one is a 422), on top of api/openapi.py's rewrite."""
    inner = app.openapi

    def openapi() -> dict[str, Any]:
        schema: dict[str, Any] = inner()
        interval = (schema.get("components", {}).get("schemas", {})
                    .get("IntervalSchedule", {}).get("properties", {}).get("interval_s"))
        if interval is not None:
            interval["minimum"] = min_interval_s
        _link(schema)
        return schema

    app.openapi = openapi


MONITOR_ROUTES = (
    ("/api/monitors/{monitor_id}", ("get", "patch", "delete")),
    ("/api/monitors/{monitor_id}/run", ("post",)),
    ("/api/monitors/{monitor_id}/runs", ("get",)),
    ("/api/monitors/{monitor_id}/trend", ("get",)),
    ("/api/monitors/{monitor_id}/changes", ("get",)),
    ("/api/monitors/{monitor_id}/alerts", ("get",)),
)
RUN_ROUTES = (("/api/diagnoses/{execution_id}", "get"),
              ("/api/diagnoses/{execution_id}/results", "get"),
              ("/api/diagnoses/{execution_id}/report", "get"))


def _link(schema: dict[str, Any]) -> None:
    """Links from a created monitor to its routes, and from a run to its execution's, so a
    client (or a fuzzer) can follow them."""
    paths = schema.get("paths", {})

    def links(routes: Any, parameter: str) -> dict[str, Any]:
        out = {}
        for path, method in routes:
            operation = paths.get(path, {}).get(method)
            if operation and "operationId" in operation:
                out[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {parameter: f"$response.body#/{parameter}"},
                }
        return out

    monitor_links = links([(p, m) for p, methods in MONITOR_ROUTES for m in methods],
                          "monitor_id")
    created = paths.get("/api/monitors", {}).get("post", {}).get("responses", {}).get("201")
    if created is not None and "links" not in created:
        created["links"] = monitor_links
    started = (paths.get("/api/monitors/{monitor_id}/run", {}).get("post", {})
               .get("responses", {}).get("202"))
    if started is not None and "links" not in started:
        started["links"] = links(RUN_ROUTES, "execution_id")
