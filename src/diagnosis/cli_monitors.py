"""`diagnosis monitor add|list|run|trend` (SPEC 12): monitors on the configured database,
in-process like `diagnosis run`; `diagnosis serve` is what runs the schedule.

Validates a new monitor with the API's own model; never prints a webhook's secret.
"""

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import typer
from rich.table import Table

from diagnosis.settings import Settings, get_settings

monitor_app = typer.Typer(help="Monitors: a diagnosis asked again on a schedule.",
                          no_args_is_help=True)


@asynccontextmanager
async def _runtime(settings: Settings) -> AsyncIterator[Any]:
    from diagnosis.cli import _database_errors
    from diagnosis.engine.service import Engine
    from diagnosis.monitors.runtime import MonitorRuntime
    from diagnosis.persistence.db import Database, migrate
    from diagnosis.persistence.repository import Repository
    from diagnosis.providers.registry import PlatformRegistry, load_platforms

    with _database_errors(settings.database_url):
        await migrate(settings.database_url)
    database = Database.open(settings.database_url,
                             busy_timeout_s=settings.sqlite_busy_timeout_s)
    engine = Engine(settings, Repository(database),
                    PlatformRegistry(load_platforms(settings.platforms_file)))
    runtime = MonitorRuntime(engine, database)
    try:
        yield runtime
    finally:
        await runtime.aclose()
        await engine.aclose()
        await database.dispose()


def _settings() -> Settings:
    from diagnosis.cli import _config_errors, _configure_logging

    with _config_errors():
        settings = get_settings()
    _configure_logging(settings)
    return settings


def _call(coro: Any) -> Any:
    from diagnosis.cli import _config_errors, err
    from diagnosis.engine.errors import DiagnosisError

    try:
        with _config_errors():
            return asyncio.run(coro)
    except DiagnosisError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        raise typer.Exit(1) from None


@monitor_app.command("add")
def add(
    name: Annotated[str, typer.Option(help="The monitor's name")],
    brand: Annotated[str, typer.Option(help="Your brand")],
    competitor: Annotated[list[str] | None, typer.Option(help="A competitor (repeat)")] = None,
    question: Annotated[list[str] | None, typer.Option(help="A question (repeat)")] = None,
    platform: Annotated[list[str] | None, typer.Option(help="Platform id or name (repeat)")] = None,
    samples: Annotated[int, typer.Option(min=1, max=10)] = 2,
    cron: Annotated[str | None, typer.Option(help='e.g. "0 9 * * *"')] = None,
    timezone: Annotated[str, typer.Option(help="IANA zone of --cron")] = "UTC",
    every: Annotated[int | None, typer.Option(help="Interval in seconds instead of --cron")] = None,
    alert: Annotated[list[str] | None, typer.Option(
        help='A rule as JSON (repeat): {"metric":"mention_rate","drop_points":10}')] = None,
    webhook_url: Annotated[str | None, typer.Option()] = None,
    webhook_kind: Annotated[str, typer.Option(help="generic | wecom | dingtalk | feishu")] = (
        "generic"),
    webhook_secret: Annotated[str | None, typer.Option(
        envvar="DIAGNOSIS_WEBHOOK_SECRET", show_envvar=True)] = None,
    paused: Annotated[bool, typer.Option()] = False,
) -> None:
    """Create a monitor (validated like POST /api/monitors)."""
    from pydantic import ValidationError

    from diagnosis.api.monitor_schemas import MonitorCreate
    from diagnosis.cli import err, out

    try:
        rules = [json.loads(a) for a in alert or ()]
    except ValueError as exc:
        err.print(f"[red]error:[/red] --alert is not JSON: {exc}")
        raise typer.Exit(1) from None
    schedule: dict[str, Any] = ({"interval_s": every} if every is not None
                                else {"cron": cron or "0 9 * * *", "timezone": timezone})
    try:
        body = MonitorCreate.model_validate({
            "name": name, "schedule": schedule, "alerts": rules, "paused": paused,
            "diagnosis": {"brand": brand, "competitors": competitor or [],
                          "questions": question or [], "platforms": platform or ["demo"],
                          "samples": samples},
            "webhook": None if not webhook_url else {
                "url": webhook_url, "kind": webhook_kind, "secret": webhook_secret},
        })
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "input"
            err.print(f"[red]error:[/red] {field}: {error['msg']}")
        raise typer.Exit(1) from None
    settings = _settings()

    async def create() -> Any:
        async with _runtime(settings) as runtime:
            return await runtime.service.create(
                owner=None, name=body.name, diagnosis=body.diagnosis.model_dump(),
                schedule=body.schedule.model_dump(),
                alerts=[r.model_dump(exclude_none=True) for r in body.alerts],
                webhook=body.webhook.model_dump() if body.webhook else None, paused=body.paused)

    record = _call(create())
    out.print(f"{record.monitor_id}  next run {record.next_run_at.isoformat()}", highlight=False)


@monitor_app.command("list")
def list_monitors() -> None:
    """Every monitor with its schedule and next slot."""
    from diagnosis.cli import out

    settings = _settings()

    async def load() -> Any:
        async with _runtime(settings) as runtime:
            return await runtime.service.list_monitors(None)

    table = Table(title="Monitors")
    for column in ("id", "name", "brand", "schedule", "paused", "next run"):
        table.add_column(column)
    for m in _call(load()):
        s = m.schedule
        when = f"every {s['interval_s']} s" if s.get("interval_s") else (
            f"{s['cron']} ({s['timezone']})")
        table.add_row(m.monitor_id, m.name, m.diagnosis["brand"], when, str(m.paused),
                      m.next_run_at.isoformat() if m.next_run_at else "-")
    out.print(table)


@monitor_app.command("run")
def run_now(monitor_id: str) -> None:
    """Run a monitor now, wait for its end, evaluate its alert rules and send its webhooks."""
    from diagnosis.cli import out

    settings = _settings()

    async def go() -> tuple[str, str, int]:
        async with _runtime(settings) as runtime:
            service = runtime.service
            record = await service.run_now(monitor_id, None)
            await service.engine.runner.wait(record.execution_id)
            view = await service.engine.status(record.execution_id)
            result = await runtime.scheduler.evaluate_ended()
            await runtime.dispatcher.drain()
            return record.execution_id, view.status.value, len(result.alerts)

    eid, status, alerts = _call(go())
    out.print(f"{eid} {status} alerts={alerts}", highlight=False)
    raise typer.Exit(0 if status in ("completed", "partial_success") else 1)


@monitor_app.command("trend")
def trend(
    monitor_id: str,
    platform: Annotated[str | None, typer.Option()] = None,
    brand: Annotated[str | None, typer.Option()] = None,
    format: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Each run's brand metrics, oldest first, from the stored reports."""
    from diagnosis.cli import out

    settings = _settings()

    async def load() -> Any:
        async with _runtime(settings) as runtime:
            return await runtime.service.trend(monitor_id, None, platform=platform, brand=brand,
                                               limit=100)

    points = _call(load())
    if format == "json":
        sys.stdout.write(json.dumps(points, ensure_ascii=False, default=str, indent=2) + "\n")
        return
    table = Table(title=f"Trend {monitor_id}")
    for column in ("slot", "brand", "mention rate", "95% CI", "share of voice", "visibility"):
        table.add_column(column)

    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.0f}%"

    for point in points:
        slot = point["scheduled_for"].isoformat() if point["scheduled_for"] else "-"
        for b in point["brands"]:
            ci = b["mention_rate_ci"]
            table.add_row(slot, f"{b['name']} *" if b["is_own"] else b["name"],
                          pct(b["mention_rate"]),
                          f"{pct(ci[0])}-{pct(ci[1])}" if ci else "-",
                          pct(b["share_of_voice"]),
                          "-" if b["visibility_score"] is None else f"{b['visibility_score']:.1f}")
    out.print(table)
