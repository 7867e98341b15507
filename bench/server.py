"""The service as `diagnosis serve` runs it (same settings, logging, migrations, uvicorn.run),
plus read-only bench routes: when each flush committed, and what the engine holds in memory.

`python -m bench.server --port P`, configured by DIAGNOSIS_* variables. The only change to the
service is a wrapper that timestamps each committed `write_progress`; it never alters a write.
`/bench/probes/start` and `/bench/probes/stop` bracket a run with the GC and loop-lag probes.
"""

import argparse
import resource
import time
from collections.abc import Sequence
from typing import Any

import uvicorn

from bench.probes import GcRecorder, LoopLagProbe
from diagnosis.api.app import create_app
from diagnosis.logs import configure_logging
from diagnosis.persistence.db import upgrade_to_head
from diagnosis.persistence.records import ProgressSnapshot, ResultWrite
from diagnosis.persistence.repository import Repository
from diagnosis.settings import get_settings

# execution_id -> [(seq, stage, committed at (time.time()), results written)]
FLUSHES: dict[str, list[tuple[int, str, float, int]]] = {}


def _record_commits() -> None:
    original = Repository.write_progress

    async def write_progress(
        self: Repository, snapshot: ProgressSnapshot, results: Sequence[ResultWrite]
    ) -> bool:
        applied = await original(self, snapshot, results)
        FLUSHES.setdefault(snapshot.execution_id, []).append(
            (snapshot.seq, snapshot.stage, time.time(), len(results))
        )
        return applied

    Repository.write_progress = write_progress  # type: ignore[method-assign]


def _raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))


def main() -> None:
    parser = argparse.ArgumentParser(description="The service with bench instrumentation.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    settings = get_settings()
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    _raise_open_files_limit()
    upgrade_to_head(settings.database_url)
    _record_commits()
    app = create_app(settings)

    async def flushes(execution_id: str) -> list[tuple[int, str, float, int]]:
        return FLUSHES.get(execution_id, [])

    async def state() -> dict[str, Any]:
        engine = app.state.engine
        return {
            "cache": sorted(engine.cache.ids()),
            "runner": sorted(engine.runner._tasks),
            "subscribers": engine.broker.subscriber_count(),
            "by_status": await engine.repository.counts_by_status(),
        }

    collections, lag = GcRecorder(), LoopLagProbe()

    async def probes_start() -> dict[str, Any]:
        collections.start()
        lag.start()
        return {"started": True}

    async def probes_stop() -> dict[str, Any]:
        collections.stop()
        await lag.stop()
        return {"gc": collections.snapshot(), "loop": lag.snapshot()}

    app.add_api_route("/bench/probes/start", probes_start, methods=["POST"],
                      include_in_schema=False)
    app.add_api_route("/bench/probes/stop", probes_stop, methods=["POST"], include_in_schema=False)
    app.add_api_route("/bench/flushes/{execution_id}", flushes, include_in_schema=False)
    app.add_api_route("/bench/state", state, include_in_schema=False)
    uvicorn.run(app, host=args.host, port=args.port, log_config=None,
                timeout_graceful_shutdown=15)


if __name__ == "__main__":
    main()
