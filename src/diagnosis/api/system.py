"""Platforms, health and metrics: the service's own surface. Never returns a key."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from diagnosis.api.deps import EngineDep, OwnerDep
from diagnosis.api.errors import DATABASE_RETRY_AFTER_S
from diagnosis.api.schemas import Health, PlatformOut

router = APIRouter()


@router.get(
    "/api/platforms", response_model=list[PlatformOut], summary="AI platforms / 可用平台",
    tags=["platforms / 平台"],
)
async def list_platforms(engine: EngineDep, owner: OwnerDep) -> list[PlatformOut]:
    """id, display name, aliases, model, configured (and why not), limits, breaker state."""
    states = engine.runtimes.breaker_states()
    return [
        PlatformOut(**config.public_dict(), breaker=states.get(pid, "closed"))
        for pid, config in engine.registry.configs.items()
    ]


@router.get(
    "/health", response_model=Health, summary="Health / 健康检查", tags=["system"],
    responses={
        503: {"model": Health, "description": "The database does not answer / 数据库不可用"}
    },
)
async def health(engine: EngineDep, response: Response) -> Health:
    """Says whether the database answers reads and takes writes (503 while it does not)."""
    db_ok = await engine.database_healthy()
    if not db_ok:
        response.status_code = 503
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    return Health(
        status="ok" if db_ok else "degraded", database=db_ok,
        running_executions=len(engine.cache),
    )


@router.get(
    "/metrics", summary="Prometheus metrics / 监控指标", tags=["system"],
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(engine: EngineDep) -> Response:
    """Prometheus text format."""
    from diagnosis.engine.metrics import EXECUTIONS_BY_STATUS

    try:
        counts = await engine.repository.counts_by_status()
    except Exception:
        counts = {}
    for status, count in counts.items():
        EXECUTIONS_BY_STATUS.labels(status).set(count)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
