"""7. Scale-out (issue 16) over real processes: `diagnosis serve` instances (DIAGNOSIS_RUNNER=queue)
and `diagnosis worker` processes on a fresh PostgreSQL database and a fresh Redis key prefix,
calling the bench's fake provider. Touches no database or Redis key but its own, and leaves none.

`python -m bench.cluster worker ARGS` is `diagnosis worker ARGS` that also appends each
committed flush's (execution id, seq, stage, wall time) to $BENCH_FLUSH_LOG, as bench/server.py
records the in-process server's, so SSE delays are measured the way section 4 measures them.
"""

import asyncio
import json
import math
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.inproc import cpu_now
from bench.loop import run_async
from bench.procs import REPO_ROOT, Child, cpu_seconds, free_port, platforms_toml, spawn
from bench.results import Check, Section, ms, percentile, ratio, secs
from bench.sizes import Sizes
from bench.sse import Received, subscribe

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "diagnosis_bench_cluster"
REDIS_URL = "redis://127.0.0.1:6379/0"
FLUSH_LOG_ENV = "BENCH_FLUSH_LOG"
# The speed-up's setup: platforms far above what the workers can use, so what bounds a run is
# each worker's global limit and CPU, which is what adding workers adds.
WORKER_CONCURRENCY = 10  # executions one worker runs at once
WORKER_GLOBAL = 16  # DIAGNOSIS_GLOBAL_CONCURRENCY: calls in flight per worker process
PLATFORM_MAX = 64  # max_concurrency of each platform, cluster-wide
SPEEDUP_PLATFORMS = ("cla", "clb")
POLL_S = 0.05
SAMPLE_S = 0.5
MAX_QUESTIONS = 50  # per execution (api/schemas.py)


# --- databases, Redis, processes -------------------------------------------------------------

async def _recreate_database(*, drop_only: bool = False) -> None:
    import asyncpg  # the postgres extra; only this part needs it

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        if not drop_only:
            await conn.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await conn.close()


def _delete_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        # Our parts' keys start with the prefix; SAQ's are saq:<prefix>:... and saq:job:<prefix>:...
        for pattern in (f"{prefix}*", f"saq:{prefix}*", f"saq:job:{prefix}*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@dataclass
class Cluster:
    work_dir: Path
    prefix: str
    env: dict[str, str]
    stack: ExitStack
    apis: list[Child] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)  # running now
    started_workers: int = 0

    def start_api(self) -> Child:
        port, name = free_port(), f"cluster-api{len(self.apis)}"
        api = self.stack.enter_context(spawn(
            "diagnosis.cli", ["serve", "--port", str(port)], port=port, ready_path="/health",
            log_path=self.work_dir / f"{name}.log", env=self.env))
        self.apis.append(api)
        return api

    def start_workers(self, n: int, *, concurrency: int, flush_log: Path | None = None) -> None:
        """n workers started together (their imports overlap), each ready once SAQ lists it."""
        env = {**os.environ, **self.env}
        if flush_log is not None:
            env[FLUSH_LOG_ENV] = str(flush_log)
        started = []
        for _ in range(n):
            log_path = self.work_dir / f"cluster-worker{self.started_workers}.log"
            self.started_workers += 1
            with log_path.open("wb") as log:
                popen = subprocess.Popen(
                    [sys.executable, "-m", "bench.cluster", "worker",
                     "--concurrency", str(concurrency)],
                    cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            self.stack.callback(_stop, popen)
            self.workers.append(popen)
            started.append((popen, log_path))
        for popen, log_path in started:
            self._wait_worker(popen, log_path)

    def stop_workers(self) -> None:
        """SIGTERM, as an operator stops them: idle workers leave at once."""
        for popen in self.workers:
            _stop(popen)
        self.workers = []

    def _wait_worker(self, popen: subprocess.Popen[bytes], log_path: Path) -> None:
        import redis

        # SAQ writes worker_info as its upkeep starts, with the dequeue loops created beside it.
        key = f"saq:{self.prefix}:worker_info:{socket.gethostname()}:{popen.pid}"
        client = redis.Redis.from_url(REDIS_URL)
        deadline = time.monotonic() + 60
        try:
            while not client.exists(key):
                if popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.05)
        finally:
            client.close()


def _stop(popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
    try:
        popen.wait(timeout=20)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()


def _raise_open_files_limit() -> None:
    # 2000 SSE streams: the bench process holds the client ends, each API instance ~1000;
    # children inherit the limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))


@contextmanager
def cluster(work_dir: Path, *, provider_url: str, platforms: dict[str, int],
            env: dict[str, str] | None = None) -> Iterator[Cluster]:
    """A fresh database and Redis prefix; every process started in it stopped and every key
    deleted at its end, whatever happens."""
    _raise_open_files_limit()
    run_async(_recreate_database())
    prefix = f"bench:{secrets.token_hex(3)}"
    platforms_file = work_dir / "cluster.platforms.toml"
    platforms_file.write_text(platforms_toml(provider_url, platforms))
    variables = {
        "DIAGNOSIS_RUNNER": "queue",
        "DIAGNOSIS_STREAM_TOKEN_SECRET": "bench-cluster-secret",
        "DIAGNOSIS_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{DATABASE}",
        "DIAGNOSIS_REDIS_URL": REDIS_URL,
        "DIAGNOSIS_REDIS_PREFIX": prefix,
        "DIAGNOSIS_PLATFORMS_FILE": str(platforms_file),
        "DIAGNOSIS_START_RATE_PER_MIN": "0",
        "DIAGNOSIS_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    with ExitStack() as stack:
        stack.callback(lambda: run_async(_recreate_database(drop_only=True)))
        stack.callback(_delete_keys, prefix)  # after the processes stopped (LIFO)
        yield Cluster(work_dir, prefix, variables, stack)


def _job_holders(prefix: str, execution_ids: Sequence[str]) -> list[int]:
    """The pid of the worker that ran each execution (SAQ's job record: worker id host:pid)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        holders = []
        for execution_id in execution_ids:
            raw = client.get(f"saq:job:{prefix}:{execution_id}")
            worker_id = (json.loads(raw).get("worker_id") or "") if raw else ""
            holders.append(int(worker_id.rsplit(":", 1)[1]) if ":" in worker_id else -1)
        return holders
    finally:
        client.close()


def _busy_jiffies() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, from /proc/stat: PostgreSQL, Redis and
    the fake provider count too."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


# --- 7. speed-up -----------------------------------------------------------------------------

@dataclass
class SpeedupRun:
    workers: int
    concurrency: int  # --concurrency of each worker
    makespan_s: float
    per_worker: list[int]  # executions each worker ran
    worker_cpu_s: float
    api_cpu_s: float
    machine_busy: float  # cores busy on average over the run (of os.cpu_count())
    statuses: list[str]
    occupancy: "Occupancy"
    finished_s: float  # the last `finished_at` (written by its worker) after the first POST
    redis_sets: int  # SET commands Redis served during the run (lease tries are SET NX)


@dataclass
class Occupancy:
    """Sampled during a run: platform leases held in Redis and calls in flight at the fake."""

    leases: list[int] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)


async def _sample_occupancy(prefix: str, fake_url: str, out: Occupancy) -> None:
    """A lease held by no call in flight is a slot no other worker can use."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                keys = [k async for k in client.scan_iter(match=f"{prefix}:slot:*", count=1000)]
                stats = (await http.get(fake_url + "/stats")).raise_for_status().json()
                out.leases.append(len(keys))
                out.in_flight.append(int(stats["in_flight"]))
                await asyncio.sleep(SAMPLE_S)
    finally:
        await client.aclose()


async def _wait_idle(prefix: str) -> None:
    """Until SAQ's active list is empty: a job leaves it once its function returned, and only
    then does its loop dequeue again (the terminal status is written a little before)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not await client.llen(f"saq:{prefix}:active"):
                return
            await asyncio.sleep(POLL_S)
        raise TimeoutError("the warm-up's jobs are still active after 60 s")
    finally:
        await client.aclose()


def _body(platforms: Sequence[str], questions: list[str], samples: int = 1) -> dict[str, object]:
    return {"brand": "蔚来", "competitors": ["理想", "小鹏"], "platforms": list(platforms),
            "questions": questions, "samples": samples}


def _shape(tasks: int) -> tuple[int, int]:
    """(questions, samples) giving `tasks` over the two platforms: the API takes 50 questions
    at most, so larger executions ask each one more than once."""
    samples = math.ceil(tasks / (len(SPEEDUP_PLATFORMS) * MAX_QUESTIONS))
    return tasks // (len(SPEEDUP_PLATFORMS) * samples), samples


async def _poll_terminal(client: httpx.AsyncClient,
                         execution_ids: list[str]) -> list[dict[str, Any]]:
    """One execution at a time until it is terminal: at most 1/POLL_S status reads per second
    (they cost the API CPU the workers need), and the last one to end is polled at POLL_S."""
    views = []
    for execution_id in execution_ids:
        while True:
            view = (await client.get(f"/api/diagnoses/{execution_id}")).raise_for_status().json()
            if view["is_completed"]:
                views.append(view)
                break
            await asyncio.sleep(POLL_S)
    return views


def _redis_sets() -> int:
    """SET calls served so far (the whole server: other clients of it count too)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.info("commandstats").get("cmdstat_set", {}).get("calls", 0))
    finally:
        client.close()


async def _start_all(client: httpx.AsyncClient, bodies: list[dict[str, object]]) -> list[str]:
    created = await asyncio.gather(*(client.post("/api/diagnoses", json=b) for b in bodies))
    return [r.raise_for_status().json()["execution_id"] for r in created]


async def _warm_up(client: httpx.AsyncClient, loops: int) -> None:
    """One one-task execution per dequeue loop: with every loop blocked, SAQ gives each one, so
    every worker has imported, connected and analysed once before the measured run."""
    bodies = [_body(SPEEDUP_PLATFORMS[:1], [f"预热{i}：新能源汽车推荐"]) for i in range(loops)]
    await _poll_terminal(client, await _start_all(client, bodies))


async def _speedup_once(c: Cluster, sizes: Sizes, fake: Child, concurrency: int) -> SpeedupRun:
    api, pids = c.apis[0], [w.pid for w in c.workers]
    questions, samples = _shape(sizes.cluster_tasks_each)
    bodies = [_body(SPEEDUP_PLATFORMS, [f"第{e}组第{q}问：新能源汽车推荐"
                                        for q in range(questions)], samples)
              for e in range(sizes.cluster_executions)]
    async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as client:
        await _warm_up(client, len(pids) * concurrency)
        await _wait_idle(c.prefix)
        occupancy = Occupancy()
        sampler = asyncio.create_task(_sample_occupancy(c.prefix, fake.base_url, occupancy))
        try:
            cpu_before = [cpu_seconds(pid) for pid in pids] + [cpu_seconds(api.pid)]
            sets, jiffies, began, wall = _redis_sets(), _busy_jiffies(), time.monotonic(), \
                time.time()
            ids = await _start_all(client, bodies)
            views = await _poll_terminal(client, ids)
            makespan = time.monotonic() - began
            sets = _redis_sets() - sets
            busy, total = (a - b for a, b in zip(_busy_jiffies(), jiffies, strict=True))
            cpu_after = [cpu_seconds(pid) for pid in pids] + [cpu_seconds(api.pid)]
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
    spent = [a - b for a, b in zip(cpu_after, cpu_before, strict=True)]
    holders = _job_holders(c.prefix, ids)
    return SpeedupRun(len(pids), concurrency, makespan, [holders.count(pid) for pid in pids],
                      sum(spent[:-1]), spent[-1], busy / max(total, 1) * (os.cpu_count() or 1),
                      [v["status"] for v in views], occupancy,
                      max(datetime.fromisoformat(v["finished_at"]).timestamp() for v in views)
                      - wall, sets)


def _speedup_configs(sizes: Sizes) -> list[tuple[int, int]]:
    """(workers, --concurrency): the brief's 10 per worker, and for more than one worker also
    just enough per worker to hold every execution, which forces SAQ to spread them."""
    configs = []
    for n in sizes.cluster_workers:
        configs.append((n, WORKER_CONCURRENCY))
        even = math.ceil(sizes.cluster_executions / n)
        if even < WORKER_CONCURRENCY:
            configs.append((n, even))
    return configs


def _measure_speedup(c: Cluster, sizes: Sizes, fake: Child) -> list[SpeedupRun]:
    runs = []
    for n, concurrency in _speedup_configs(sizes):
        c.start_workers(n, concurrency=concurrency)
        try:
            runs.append(run_async(_speedup_once(c, sizes, fake, concurrency)))
        finally:
            c.stop_workers()
    return runs


def _ideal_s(sizes: Sizes, *, executions: int, workers: int) -> float:
    """ceil(tasks / slots) x L, the slots being the workers' global limits or the platforms'."""
    slots = min(WORKER_GLOBAL * workers, PLATFORM_MAX * len(SPEEDUP_PLATFORMS))
    return math.ceil(executions * sizes.cluster_tasks_each / slots) * sizes.latency_ms / 1000


def _even_ideal(sizes: Sizes, run: SpeedupRun) -> float:
    return _ideal_s(sizes, executions=sizes.cluster_executions, workers=run.workers)


def _placed_ideal(sizes: Sizes, run: SpeedupRun) -> float:
    """The busiest worker's share under its own global limit: the placement's bound."""
    return _ideal_s(sizes, executions=max(run.per_worker), workers=1)


def speedup_section(sizes: Sizes, runs: list[SpeedupRun]) -> Section:
    e, t = sizes.cluster_executions, sizes.cluster_tasks_each
    questions, samples = _shape(t)
    section = Section(
        title="7. Scale-out: executions over 1 and 3 workers",
        meaning=(
            f"{e} executions of {t} tasks each ({questions} questions x {samples} samples x 2 "
            "platforms), POSTed at once "
            "to one `diagnosis serve` (DIAGNOSIS_RUNNER=queue) on PostgreSQL, run by N "
            "`diagnosis worker --concurrency K` processes (DIAGNOSIS_GLOBAL_CONCURRENCY="
            f"{WORKER_GLOBAL} each) through SAQ on Redis, after a warm-up execution per "
            f"dequeue loop. Both platforms (the fake provider, L = {sizes.latency_ms:g} ms) "
            f"have max_concurrency {PLATFORM_MAX}, held cluster-wide by Redis leases, so the "
            "workers' own limits and CPU bound a run. Makespan: from the first POST to the "
            f"last execution seen terminal on the status route (polled every "
            f"{POLL_S * 1000:.0f} ms); last finished_at: the latest `finished_at` its worker "
            "wrote, from the first POST. Ideal (even) = ceil({e * t} / min({WORKER_GLOBAL} x N, "
            f"{PLATFORM_MAX} x 2)) x L; ideal (placed) = the busiest worker's tasks / "
            f"{WORKER_GLOBAL} x L. Speed-up against the first row. Worker CPU: all workers' "
            "user+system time over the run, per task; Redis SETs: SET commands the Redis server "
            "served over the run (a lease try is a SET NX; other clients of the server count "
            "too); machine busy: cores busy on average (/proc/stat: everything on the machine)."
        ),
        headers=["N", "K", "executions per worker", "ideal (even)", "ideal (placed)",
                 "makespan", "last finished_at", "makespan/ideal (placed)", "speed-up",
                 "ideal speed-up", "worker CPU/task", "leases held p50", "calls in flight p50",
                 "Redis SETs", "machine busy"],
    )
    base = runs[0]
    for run in runs:
        section.rows.append([
            str(run.workers), str(run.concurrency), " / ".join(map(str, run.per_worker)),
            secs(_even_ideal(sizes, run)), secs(_placed_ideal(sizes, run)),
            secs(run.makespan_s), secs(run.finished_s),
            ratio(run.makespan_s / _placed_ideal(sizes, run)),
            ratio(base.makespan_s / run.makespan_s),
            ratio(_even_ideal(sizes, base) / _even_ideal(sizes, run)),
            ms(run.worker_cpu_s / (e * t)), f"{percentile(run.occupancy.leases, 50):g}",
            f"{percentile(run.occupancy.in_flight, 50):g}", str(run.redis_sets),
            f"{run.machine_busy:.2f} of {os.cpu_count()}",
        ])
        done = run.statuses.count("completed")
        section.checks.append(Check(
            f"every execution completes (N={run.workers}, K={run.concurrency})", f"{done}/{e}",
            done == e))
    for run in runs[1:]:
        speedup = base.makespan_s / run.makespan_s
        section.checks.append(Check(
            f"N={run.workers} workers (K={run.concurrency}) at least as fast as "
            f"N={base.workers}", f"{ratio(speedup)} (ideal "
            f"{ratio(_even_ideal(sizes, base) / _even_ideal(sizes, run))})", speedup >= 1.0))
    section.notes += _speedup_notes(sizes, runs)
    section.causes += _speedup_causes(sizes, runs)
    return section


def _speedup_notes(sizes: Sizes, runs: list[SpeedupRun]) -> list[str]:
    cores = os.cpu_count() or 1
    notes = [
        f"Leases held / calls in flight: sampled every {SAMPLE_S:g} s during the run (the "
        f"`<prefix>:slot:*` keys in Redis, the fake provider's in-flight count); "
        f"{PLATFORM_MAX} x 2 leases exist.",
    ]
    notes += [
        f"N={run.workers}, K={run.concurrency}: the workers used "
        f"{run.worker_cpu_s / run.makespan_s:.2f} cores on average ({secs(run.worker_cpu_s)} "
        f"CPU over {secs(run.makespan_s)}), the API {secs(run.api_cpu_s)}, the machine "
        f"{run.machine_busy:.2f} of {cores}."
        for run in runs
    ]
    notes.append(
        f"The fake provider, PostgreSQL, Redis, the API, the bench and the workers share "
        f"{cores} cores: once the machine is busy, more workers add slots but no CPU, so N "
        "workers cannot give N x even when placed evenly; each execution also ends with the "
        "analysing stage and up to two flush intervals (DIAGNOSIS_FLUSH_INTERVAL_S, 0.5 s)."
    )
    return notes


def _speedup_causes(sizes: Sizes, runs: list[SpeedupRun]) -> list[str]:
    tasks = sizes.cluster_executions * sizes.cluster_tasks_each
    causes = []
    for run in runs:
        if max(run.per_worker) > math.ceil(sizes.cluster_executions / run.workers):
            causes.append(
                f"N={run.workers}, K={run.concurrency}: SAQ placed the executions as "
                f"{run.per_worker}. A worker takes up to K at once and Redis serves blocked "
                "dequeues first come, first served, so the placement follows the order the "
                "dequeue loops blocked in, not the load; with K >= the executions one worker "
                "can take them all. K = ceil(executions / N) forces a spread."
            )
        leases, in_flight = (percentile(v, 50) for v in (run.occupancy.leases,
                                                          run.occupancy.in_flight))
        if sum(1 for n in run.per_worker if n) > 1 and leases > 2 * max(in_flight, 1):
            causes.append(
                f"N={run.workers}, K={run.concurrency}: {leases:g} platform leases held for "
                f"{in_flight:g} calls in flight (medians), worker CPU "
                f"{ms(run.worker_cpu_s / tasks)} per task against "
                f"{ms(runs[0].worker_cpu_s / tasks)} with one worker. engine/calls.py "
                "`_attempt` takes the platform's cluster lease before this process's global "
                "slot: a worker's queued tasks hold up to "
                f"max_concurrency ({PLATFORM_MAX}) leases per platform while only "
                f"DIAGNOSIS_GLOBAL_CONCURRENCY ({WORKER_GLOBAL}) of them call, and the other "
                "workers' tasks poll Redis for the rest, burning the CPU the calls need."
            )
    return causes


# --- 7b. SSE over two API instances ---------------------------------------------------------

@dataclass
class SseClusterRun:
    received: list[list[Received]]  # per API instance
    commits: dict[int, float]  # seq -> the worker's commit wall time
    api_cpu_s: list[float]
    client_cpu_s: float
    opened_at: float
    done_at: float


def _read_flush_log(path: Path, execution_id: str) -> tuple[dict[int, float], float]:
    commits, done_at = {}, math.nan
    for line in path.read_text().splitlines():
        of, seq, stage, at = line.split()
        if of != execution_id:
            continue
        commits[int(seq)] = float(at)
        if stage == "done":
            done_at = float(at)
    return commits, done_at


async def _subscribe_all(apis: list[Child], path: str, n: int) -> tuple[
        list[list[Received]], list[asyncio.Task[None]]]:
    received = [[Received() for _ in range(n)] for _ in apis]
    connected = [asyncio.Event() for _ in range(n * len(apis))]
    readers = [asyncio.create_task(subscribe(api.base_url, path, connected[a * n + i], r))
               for a, api in enumerate(apis) for i, r in enumerate(received[a])]
    # Every stream subscribes before it reads its snapshot: the first event means it is listening.
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in connected)), 120)
    return received, readers


async def _sse_once(c: Cluster, fake: Child, flush_log: Path, *, subscribers: int,
                    tasks: int) -> SseClusterRun:
    apis, n = c.apis, subscribers
    async with httpx.AsyncClient(base_url=apis[0].base_url, timeout=60) as client:
        (await client.get(fake.base_url + "/gate/close")).raise_for_status()
        readers: list[asyncio.Task[None]] = []
        try:
            questions = [f"第{q}问：新能源汽车推荐" for q in range(tasks)]
            body = _body(["fake"], questions)
            created = (await client.post("/api/diagnoses", json=body)).raise_for_status().json()
            path = f"/api/diagnoses/{created['execution_id']}/events"
            received, readers = await _subscribe_all(apis, path, n)
        finally:
            api_cpu = [cpu_seconds(a.pid) for a in apis]
            client_cpu, opened_at = cpu_now(), time.time()
            (await client.get(fake.base_url + "/gate/open")).raise_for_status()
        await asyncio.wait_for(asyncio.gather(*readers), 300)
        api_cpu = [cpu_seconds(a.pid) - before for a, before in zip(apis, api_cpu, strict=True)]
        client_cpu = cpu_now() - client_cpu
    commits, done_at = _read_flush_log(flush_log, created["execution_id"])
    return SseClusterRun(received, commits, api_cpu, client_cpu, opened_at, done_at)


def _measure_sse(c: Cluster, sizes: Sizes, fake: Child) -> SseClusterRun:
    flush_log = c.work_dir / "cluster-sse-flushes.txt"
    while len(c.apis) < 2:
        c.start_api()
    c.start_workers(1, concurrency=WORKER_CONCURRENCY, flush_log=flush_log)
    try:
        # Warm-up: the second instance is new, and a first stream runs code paths cold.
        run_async(_sse_once(c, fake, flush_log, subscribers=10, tasks=4))
        return run_async(_sse_once(c, fake, flush_log, subscribers=sizes.cluster_sse_subscribers,
                                   tasks=sizes.cluster_sse_tasks))
    finally:
        c.stop_workers()


def _delays(received: list[Received], commits: dict[int, float]) -> list[float]:
    return [at - commits[ident] for r in received for _name, ident, at in r.events[1:]
            if ident is not None and ident in commits]  # events[0]: the snapshot


def _sse_row(label: str, received: list[Received], commits: dict[int, float],
             tasks: int) -> list[str]:
    delays = _delays(received, commits)
    completes = sum(1 for r in received if r.count("complete") == 1)
    all_tasks = sum(1 for r in received if r.count("task") == tasks)
    progress = sum(r.count("progress") for r in received) / max(len(received), 1)
    return [label, str(len(received)), str(completes), str(all_tasks), f"{progress:.1f}",
            str(len(delays)), ms(percentile(delays, 50)), ms(percentile(delays, 99)),
            ms(max(delays, default=math.nan))]


def sse_section(sizes: Sizes, run: SseClusterRun) -> Section:
    n, tasks = sizes.cluster_sse_subscribers, sizes.cluster_sse_tasks
    everyone = [r for per_api in run.received for r in per_api]
    section = Section(
        title="7b. Scale-out: SSE over 2 API instances",
        meaning=(
            f"{2 * n} subscribers ({n} on each of 2 `diagnosis serve` instances, "
            "DIAGNOSIS_RUNNER=queue) on one execution of "
            f"{tasks} tasks (C = {sizes.sse_concurrency}, L = {sizes.latency_ms:g} ms) run by one "
            "`diagnosis worker`; the worker's flushes reach the instances through Redis pub/sub. "
            "The fake's gate holds every call until all subscribers have their snapshot. Delay "
            "as in section 4: arrival of each `progress`/`complete` event after the snapshot "
            "minus the commit time of the flush with that seq, here recorded in the worker "
            "(`python -m bench.cluster worker`), all wall-clock on this machine. Progress "
            "events per subscriber include the snapshot."
        ),
        headers=["instance", "subscribers", "got complete", f"got all {tasks} tasks",
                 "progress events each", "delays", "p50 delay", "p99 delay", "max delay"],
        rows=[*(_sse_row(name, per_api, run.commits, tasks)
                for name, per_api in zip(("A (POSTed to)", "B"), run.received, strict=True)),
              _sse_row("both", everyone, run.commits, tasks)],
    )
    errors = [r.error for r in everyone if r.error]
    if errors:
        section.notes.append(f"{len(errors)} subscribers failed, e.g. {errors[0]}")
    delays = _delays(everyone, run.commits)
    p99 = percentile(delays, 99)
    completes = sum(1 for r in everyone if r.count("complete") == 1)
    window = max((at for r in everyone for _n, _i, at in r.events), default=run.opened_at) \
        - run.opened_at
    busy = (sum(run.api_cpu_s) + run.client_cpu_s) / max(window, 1e-9)
    section.notes += [
        f"{len(run.commits)} flushes. From the gate's opening to the last event received: "
        f"{secs(window)}; in it the instances used {' / '.join(secs(s) for s in run.api_cpu_s)}"
        f" CPU and the subscribers (all in the bench process) {secs(run.client_cpu_s)}: "
        f"{busy:.2f} cores of {os.cpu_count()} before the worker, PostgreSQL, Redis and the "
        "fake provider. The execution, from the gate's opening to its durable `done`, took "
        f"{secs(run.done_at - run.opened_at)}.",
        "Compare section 4 (one process, in-process broker, 1000 subscribers, the same "
        "execution shape and the same delay definition); here a flush also crosses Redis "
        "pub/sub, and 2 instances on a 2-core machine add event loops, not cores.",
    ]
    section.checks += [
        Check(f"every one of {2 * n} subscribers receives `complete`", f"{completes}/{2 * n}",
              completes == 2 * n),
        Check(f"SSE p99 delivery < 100 ms ({2 * n} subscribers over 2 instances)", ms(p99),
              p99 < 0.100),
    ]
    if p99 >= 0.100:
        section.causes.append(
            f"p99 misses 100 ms with {n} subscribers per instance: each instance still sends "
            f"every flush to its {n} streams one after another on its event loop (as in "
            f"section 4), and the 2 instances and the {2 * n} subscribers needed {busy:.2f} "
            f"cores over the delivery on a {os.cpu_count()}-core machine that also runs the "
            "worker, PostgreSQL and Redis: the instances do not add CPU here, so later flushes "
            "queue behind earlier ones."
        )
    return section


# --- entry points ----------------------------------------------------------------------------

def run(sizes: Sizes, fake: Child, work_dir: Path) -> list[Section]:
    """Both measurements on one cluster (one database, one prefix, API instances kept; each
    measurement starts its own workers); needs PostgreSQL and Redis on 127.0.0.1."""
    platforms = {**dict.fromkeys(SPEEDUP_PLATFORMS, PLATFORM_MAX), "fake": sizes.sse_concurrency}
    env = {"DIAGNOSIS_GLOBAL_CONCURRENCY": str(WORKER_GLOBAL)}
    with cluster(work_dir, provider_url=fake.base_url + "/v1", platforms=platforms,
                 env=env) as c:
        c.start_api()
        speedup = _measure_speedup(c, sizes, fake)
        sse_run = _measure_sse(c, sizes, fake)
    return [speedup_section(sizes, speedup), sse_section(sizes, sse_run)]


def _record_flushes(path: str) -> None:
    from diagnosis.persistence.records import ProgressSnapshot, ResultWrite
    from diagnosis.persistence.repository import Repository

    original = Repository.write_progress
    sink = open(path, "a", buffering=1)  # open for the process's life

    async def write_progress(self: Repository, snapshot: ProgressSnapshot,
                             results: Sequence[ResultWrite]) -> bool:
        applied = await original(self, snapshot, results)
        sink.write(f"{snapshot.execution_id} {snapshot.seq} {snapshot.stage} {time.time():.6f}\n")
        return applied

    Repository.write_progress = write_progress  # type: ignore[method-assign]


def worker_main(argv: list[str]) -> None:
    if path := os.environ.get(FLUSH_LOG_ENV):
        _record_flushes(path)
    from diagnosis.cli import app

    app(argv)


if __name__ == "__main__":
    worker_main(sys.argv[1:])
