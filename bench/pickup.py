"""`python -m bench.pickup [--runs N]`: what a worker's death costs under the queue runner (issue
16, docs/scale-out.md). One API instance and two workers with the DEFAULT heartbeat and sweep on
the local PostgreSQL and Redis; an execution runs, the worker holding it is killed with -9, and we
time the kill -> another worker holds the job -> the next result is durable.

Not part of `make bench` (each run waits out a heartbeat, ~20 s): run it when the timers change.
"""

import argparse
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

from bench.procs import REPO_ROOT, fake_provider, free_port

DATABASE = "diagnosis_bench_pickup"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _recreate_database() -> str:
    import asyncio

    import asyncpg

    async def recreate() -> None:
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await conn.close()

    asyncio.run(recreate())
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DATABASE}"


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "diagnosis.cli", *args], cwd=REPO_ROOT,
                                env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT)


def _until(what: str, check: Callable[[], object], bound_s: float = 120) -> object:
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out: {what}")


def one_run(work: Path, provider_url: str) -> dict[str, float]:
    prefix = f"bench:{secrets.token_hex(3)}"
    platforms = work / "platforms.toml"
    platforms.write_text(f'[platforms.fake]\nkind = "openai"\nbase_url = "{provider_url}"\n'
                         'model = "m"\nmax_concurrency = 4\nmax_retries = 0\n')
    env = {"DIAGNOSIS_DATABASE_URL": _recreate_database(), "DIAGNOSIS_REDIS_URL": REDIS_URL,
           "DIAGNOSIS_REDIS_PREFIX": prefix, "DIAGNOSIS_RUNNER": "queue",
           "DIAGNOSIS_STREAM_TOKEN_SECRET": "bench", "DIAGNOSIS_PLATFORMS_FILE": str(platforms),
           "DIAGNOSIS_LOG_LEVEL": "WARNING", "DIAGNOSIS_START_RATE_PER_MIN": "0"}
    port = free_port()
    procs = [_spawn(["serve", "--port", str(port)], env, work / "api.log")]
    base = f"http://127.0.0.1:{port}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        _until("the API", lambda: _healthy(base))
        procs += [_spawn(["worker"], env, work / f"worker{i}.log") for i in range(2)]
        eid = httpx.post(f"{base}/api/diagnoses", json={
            "brand": "蔚来", "platforms": ["fake"],
            "questions": [f"问题{i}：推荐哪个品牌？" for i in range(48)]}, timeout=10,
        ).json()["execution_id"]
        holder = _until("a holder", lambda: _holder(client, prefix, eid))
        _until("a few results", lambda: _status(base, eid)["completed"] >= 4)
        done_before = _status(base, eid)["completed"]
        os.kill(int(str(holder).rsplit(":", 1)[1]), signal.SIGKILL)
        killed = time.monotonic()
        _until("another holder", lambda: _holder(client, prefix, eid) not in (None, holder))
        taken = time.monotonic()
        _until("a new durable result", lambda: _status(base, eid)["completed"] > done_before)
        resumed = time.monotonic()
        _until("the end", lambda: _status(base, eid)["is_completed"])
        return {"taken_s": taken - killed, "resumed_s": resumed - killed}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
        for pattern in (f"{prefix}*", f"saq:{prefix}*", f"saq:job:{prefix}*"):
            keys = list(client.scan_iter(match=pattern))
            if keys:
                client.delete(*keys)
        client.close()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _status(base: str, eid: str) -> dict[str, object]:
    return httpx.get(f"{base}/api/diagnoses/{eid}", timeout=10).json()  # type: ignore[no-any-return]


def _holder(client: redis.Redis, prefix: str, eid: str) -> str | None:
    raw = client.get(f"saq:job:{prefix}:{eid}")
    job = json.loads(raw) if raw else {}
    return job.get("worker_id") if job.get("status") == "active" else None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pickup", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="diagnosis-pickup-") as tmp:
        work = Path(tmp)
        with fake_provider(300, work) as fake:
            runs = [one_run(work, fake.base_url + "/v1") for _ in range(args.runs)]
    for key in ("taken_s", "resumed_s"):
        values = [r[key] for r in runs]
        print(f"{key}: " + ", ".join(f"{v:.1f}" for v in values)
              + f" (median {statistics.median(values):.1f} s)")


if __name__ == "__main__":
    main()
