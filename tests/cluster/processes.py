"""A cluster of real processes for the scale-out tests: `diagnosis serve` instances and
`diagnosis worker` processes on one PostgreSQL database and one Redis key prefix, calling the
loopback fake provider. Settings go in as environment variables, as an operator's do.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.server_process import ServerProcess, start, wait_until_serving

# Short heartbeat and sweep: a dead worker's job is handed on in seconds, not tens of them. Not
# the shortest allowed: a job is touched every max(1 s, heartbeat / 3), so a 2 s heartbeat lets a
# live worker's 1 s stall on a loaded machine get its job swept, and a 2 s lease lost its slots.
FAST_CLUSTER_ENV = {
    "DIAGNOSIS_RUNNER": "queue",
    "DIAGNOSIS_STREAM_TOKEN_SECRET": "cluster-test-secret",
    "DIAGNOSIS_WORKER_HEARTBEAT_S": "4",
    "DIAGNOSIS_WORKER_SWEEP_S": "1",
    "DIAGNOSIS_LEASE_TTL_S": "5",
    "DIAGNOSIS_RECONCILE_INTERVAL_S": "2",
    "DIAGNOSIS_FLUSH_INTERVAL_S": "0.05",
    "DIAGNOSIS_START_RATE_PER_MIN": "0",
    "DIAGNOSIS_SHUTDOWN_TIMEOUT_S": "10",
}


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    log_file: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")


@dataclass
class Cluster:
    tmp_path: Path
    env: dict[str, str]
    platforms: str
    apis: list[ServerProcess] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)

    def start_api(self) -> ServerProcess:
        home = self.tmp_path / f"api{len(self.apis)}"
        home.mkdir(exist_ok=True)
        # API instances log at WARNING: their stderr is a pipe read only once they end.
        server = start(home, platforms=self.platforms,
                       **{**self.env, "DIAGNOSIS_LOG_LEVEL": "WARNING"})
        self.apis.append(server)
        return server

    def start_worker(self, *, concurrency: int = 2) -> WorkerProcess:
        number = len(self.workers)
        platforms = self.tmp_path / "platforms.toml"
        env = {**os.environ, **self.env, "DIAGNOSIS_PLATFORMS_FILE": str(platforms)}
        log_file = self.tmp_path / f"worker{number}.log"
        with log_file.open("wb") as sink:
            proc = subprocess.Popen(
                [sys.executable, "-m", "diagnosis.cli", "worker",
                 "--concurrency", str(concurrency)],
                env=env, stdout=subprocess.DEVNULL, stderr=sink,
            )
        worker = WorkerProcess(proc, log_file)
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for proc in [*(a.proc for a in self.apis), *(w.proc for w in self.workers)]:
            if proc.poll() is None:
                proc.kill()
        for proc in [*(a.proc for a in self.apis), *(w.proc for w in self.workers)]:
            proc.wait(timeout=10)


@contextmanager
def cluster(tmp_path: Path, *, database_url: str, redis_url: str, prefix: str,
            platforms: str, **env: str) -> Iterator[Cluster]:
    (tmp_path / "platforms.toml").write_text(platforms)
    environment = {
        **FAST_CLUSTER_ENV,
        "DIAGNOSIS_DATABASE_URL": database_url,
        "DIAGNOSIS_REDIS_URL": redis_url,
        "DIAGNOSIS_REDIS_PREFIX": prefix,
        "DIAGNOSIS_LOG_LEVEL": "INFO",
        **env,
    }
    group = Cluster(tmp_path, environment, platforms)
    try:
        yield group
    finally:
        group.stop_all()


def kill9(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def poll(condition: Callable[[], object], *, bound_s: float, what: str,
         every_s: float = 0.05) -> object:
    """Poll `condition` until it returns something truthy, at most `bound_s`."""
    deadline = time.monotonic() + bound_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every_s)


def status_of(api: ServerProcess, execution_id: str) -> dict[str, object]:
    response = httpx.get(f"{api.base_url}/api/diagnoses/{execution_id}", timeout=10)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


__all__ = ["Cluster", "cluster", "kill9", "poll", "status_of", "wait_until_serving"]
