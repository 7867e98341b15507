"""The `diagnosis` command: serve, worker, run one diagnosis in-process, list platforms, monitors.

Prints reports to stdout and progress to stderr, so `diagnosis run --format json | jq` works.
Never prints a key.
"""

import asyncio
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from diagnosis.settings import Settings, get_settings

app = typer.Typer(
    help="Brand diagnosis: how AI assistants talk about a brand.", no_args_is_help=True
)
# Piped output is not squeezed into 80 columns: tables stay readable in logs and files.
out = Console() if Console().is_terminal else Console(width=160)
err = Console(stderr=True)

EXIT_CODES = {"completed": 0, "partial_success": 2}


@contextmanager
def _config_errors() -> Iterator[None]:
    """A bad setting or platforms file ends the command with its message, not a traceback."""
    from pydantic import ValidationError

    from diagnosis.providers.registry import PlatformConfigError

    try:
        yield
    except (PlatformConfigError, ValidationError) as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


@contextmanager
def _database_errors(database_url: str) -> Iterator[None]:
    """A database that cannot be opened or migrated ends the command with ONE line naming it
    (password masked) and the reason, not a traceback."""
    from diagnosis.persistence.faults import masked_url, reason

    try:
        yield
    except Exception as exc:
        err.print(
            f"[red]cannot use the database[/red] {masked_url(database_url)}: {reason(exc)}",
            markup=True, highlight=False, soft_wrap=True,
        )
        raise typer.Exit(1) from None


def _configure_logging(settings: Settings) -> None:
    from diagnosis.logs import configure_logging

    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    # Alembic narrates every migration step at info: noise around a progress bar or a report.
    logging.getLogger("alembic").setLevel(logging.WARNING)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
) -> None:
    """Migrate the database, resume left-over executions, serve the API and dashboard."""
    import uvicorn

    from diagnosis.api.app import create_app
    from diagnosis.api.http_guard import http_limits, server_config
    from diagnosis.persistence.db import upgrade_to_head

    with _config_errors():
        settings = get_settings()
        application = create_app(settings)
    _configure_logging(settings)
    with _database_errors(settings.database_url):
        upgrade_to_head(settings.database_url)
    config = server_config(
        application, host=host, port=port, limits=http_limits(settings), log_config=None,
        graceful_shutdown_s=max(1, round(settings.shutdown_timeout_s * 0.3)),
    )
    uvicorn.Server(config).run()


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Executions run at once")] = 4,
) -> None:
    """Run executions taken from the queue (DIAGNOSIS_RUNNER=queue, SPEC 11) until SIGTERM."""
    from diagnosis.cluster.deployment import run_worker
    from diagnosis.persistence.db import upgrade_to_head

    with _config_errors():
        settings = get_settings()
    if not settings.redis_url:
        err.print("[red]configuration error:[/red] a worker needs DIAGNOSIS_REDIS_URL")
        raise typer.Exit(2)
    _configure_logging(settings)
    with _database_errors(settings.database_url):
        upgrade_to_head(settings.database_url)
    asyncio.run(run_worker(settings, concurrency=concurrency))


@app.command()
def platforms() -> None:
    """List the platforms, whether each is configured, and its limits (never a key)."""
    from diagnosis.providers.registry import load_platforms

    with _config_errors():
        configs = load_platforms(get_settings().platforms_file)
    table = Table(title="Platforms / 平台")
    columns = (
        "id", "name", "model", "configured", "concurrency", "rpm", "timeout_s", "retries",
        "web search",
    )
    for column in columns:
        table.add_column(column)
    for config in configs.values():
        info = config.public_dict()
        limits = info["limits"]
        configured = "yes" if info["configured"] else f"no ({info.get('reason') or 'no key'})"
        table.add_row(
            info["id"], info["display_name"], str(info.get("model") or ""), configured,
            str(limits["max_concurrency"]), str(limits["rpm"] or "-"), str(limits["timeout_s"]),
            str(limits["max_retries"]), _search_cell(info["search"]),
        )
    out.print(table)


def _search_cell(search: dict) -> str:
    """on / off with the mechanism, or why the platform has none (SPEC 7, `search`)."""
    if not search["supported"]:
        return "unsupported: " + str(search["note"])
    return f"{'on' if search['enabled'] else 'off'} ({search['mechanism']})"


@app.command()
def run(
    brand: Annotated[str, typer.Option(help="Your brand")],
    alias: Annotated[list[str] | None, typer.Option(help="An alias of the brand (repeat)")] = None,
    competitor: Annotated[list[str] | None, typer.Option(help="A competitor (repeat)")] = None,
    question: Annotated[
        list[str] | None, typer.Option(help="A question (repeat); {brand} expands")
    ] = None,
    platform: Annotated[list[str] | None, typer.Option(help="Platform id or name (repeat)")] = None,
    samples: Annotated[int, typer.Option(min=1, max=10)] = 1,
    deadline: Annotated[int | None, typer.Option(min=1, max=3600, help="Deadline, seconds")] = None,
    format: Annotated[str, typer.Option("--format", help="table | json | md")] = "table",
) -> None:
    """Run one diagnosis in-process, show progress, print the report."""
    if format not in ("table", "json", "md"):
        raise typer.BadParameter("format must be table, json or md", param_hint="--format")
    request = _validated_request(
        brand=brand, aliases=alias or [], competitors=competitor or [],
        questions=question or [], platforms=platform or ["demo"], samples=samples,
        deadline_s=deadline,
    )
    with _config_errors():
        settings = get_settings()
    _configure_logging(settings)
    from diagnosis.engine.errors import DiagnosisError

    try:
        with _config_errors():
            status, report = asyncio.run(_run(settings, request, format))
    except DiagnosisError as exc:
        err.print(f"[red]error:[/red] {exc.detail}")
        extra = exc.extra.get("available_platforms")
        if extra:
            err.print(f"available platforms: {', '.join(extra)}")
        raise typer.Exit(1) from None
    if format == "json":
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    elif format == "md":
        sys.stdout.write(str(report))
    else:
        _print_table(report)
    raise typer.Exit(EXIT_CODES.get(status, 1))


def _validated_request(*, brand: str, aliases: list[str], competitors: list[str],
                       questions: list[str], platforms: list[str], samples: int,
                       deadline_s: int | None) -> Any:
    """The same checks as POST /api/diagnoses (lengths, counts, ranges); exit 1 with the
    field named when one fails, before anything is written."""
    from pydantic import ValidationError

    from diagnosis.api.schemas import DiagnosisCreate
    from diagnosis.engine.service import Competitor, NewDiagnosis

    try:
        body = DiagnosisCreate.model_validate({
            "brand": brand, "aliases": aliases, "competitors": competitors,
            "questions": questions, "platforms": platforms, "samples": samples,
            "deadline_s": deadline_s,
        })
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "input"
            err.print(f"[red]error:[/red] {field}: {error['msg']}")
        raise typer.Exit(1) from None
    return NewDiagnosis(
        brand=body.brand, aliases=list(body.aliases),
        competitors=[Competitor(c.name, list(c.aliases)) for c in body.competitors],
        questions=list(body.questions), platforms=list(body.platforms), samples=body.samples,
        deadline_s=body.deadline_s, owner="cli",
    )


async def _run(settings: Settings, request: Any, fmt: str) -> tuple[str, Any]:
    from diagnosis.engine.service import Engine
    from diagnosis.heap import freeze_startup_heap
    from diagnosis.persistence.db import Database, migrate
    from diagnosis.persistence.repository import Repository
    from diagnosis.providers.registry import PlatformRegistry, load_platforms

    with _database_errors(settings.database_url):
        await migrate(settings.database_url)
    database = Database.open(
        settings.database_url, busy_timeout_s=settings.sqlite_busy_timeout_s,
        pool_size=settings.db_pool_size, statement_timeout_s=settings.db_statement_timeout_s,
    )
    registry = PlatformRegistry(load_platforms(settings.platforms_file))
    engine = Engine(settings, Repository(database), registry)
    freeze_startup_heap()  # start-up is done: no full collection walks what it built
    try:
        record = await engine.create(request)
        eid = record.execution_id
        await _follow(engine, eid, record.total)
        view = await engine.status(eid)
        report = await engine.report(eid, None, "json" if fmt in ("json", "table") else "md")
        if isinstance(report, bytes):
            report = report.decode()
        return view.status.value, report
    finally:
        await engine.aclose()
        await database.dispose()


async def _follow(engine: Any, execution_id: str, total: int) -> None:
    """A rich progress bar on a terminal, plain lines otherwise; ends with the execution."""
    done = asyncio.create_task(engine.runner.wait(execution_id))
    with engine.broker.subscribe(execution_id) as sub:
        if err.is_terminal:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn())
            with Progress(*columns, console=err, transient=False) as bar:
                task = bar.add_task("diagnosing", total=total)
                while not done.done():
                    batch = await sub.next(timeout=0.5)
                    if batch is not None:
                        p = batch.progress
                        bar.update(task, completed=p["completed"] + p["failed"],
                                   description=f"{p['stage']}")
        else:
            last = -1
            while not done.done():
                batch = await sub.next(timeout=0.5)
                if batch is not None and batch.progress["progress"] != last:
                    last = batch.progress["progress"]
                    p = batch.progress
                    err.print(f"progress {last}% ({p['completed']} ok, {p['failed']} failed) "
                              f"stage={p['stage']}")
    await done


def _print_table(report: dict[str, Any]) -> None:
    table = Table(title=f"Report {report.get('execution_id', '')} ({report.get('status', '')})")
    for column in ("brand", "mention rate", "avg rank", "top-1", "share of voice", "sentiment",
                   "visibility"):
        table.add_column(column)

    def pct(v: Any) -> str:
        return "-" if v is None else f"{100 * v:.0f}%"

    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.2f}"

    for b in report.get("brands", []):
        name = f"{b['name']} *" if b.get("is_own") else b["name"]
        table.add_row(name, pct(b.get("mention_rate")), num(b.get("avg_rank")),
                      pct(b.get("top1_share")), pct(b.get("share_of_voice")),
                      num(b.get("sentiment_index")), num(b.get("visibility_score")))
    out.print(table)


from diagnosis.cli_monitors import monitor_app  # noqa: E402  (its commands import this module)

app.add_typer(monitor_app, name="monitor")


def main() -> None:  # pragma: no cover
    logging.basicConfig()
    app()


if __name__ == "__main__":  # `python -m diagnosis.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
