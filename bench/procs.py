"""Child processes of a bench run (the fake provider, the server) and what /proc says of them.

Every process started here is stopped by its own pid, never by name; output goes to a log file,
never to a pipe that could fill up and stall the child (run_json reads its child's whole output
as the child runs: subprocess.run).
"""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Child:
    popen: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid


def rss_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of `pid` in KiB, from /proc/<pid>/status (no psutil here)."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def run_json(module: str, *args: object, env: Mapping[str, str]) -> Any:
    """`python -m module args...` in a process of its own (`env` added to ours), and the JSON it
    prints: how a bench measures where this process's state must not count."""
    done = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)], cwd=REPO_ROOT,
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    )
    return json.loads(done.stdout)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime


def parent_of(pid: int) -> int:
    """The parent pid of `pid`, from /proc/<pid>/stat (raises OSError once it is gone)."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (the server's fork server and analysis workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = parent_of(int(entry.name))
            except OSError:  # gone meanwhile
                continue
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of `pid` and every live process below it (a child that exited in between is
    not counted: the server's analysis workers live as long as it does)."""
    total = cpu_seconds(pid)
    for child in descendants(pid):
        try:
            total += cpu_seconds(child)
        except OSError:
            continue
    return total


def _wait_ready(child: Child, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.popen.poll() is not None:
            tail = child.log_path.read_text()[-2000:]
            raise RuntimeError(f"{child.log_path.name} exited: {tail}")
        try:
            httpx.get(child.base_url + path, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{child.log_path.name} did not answer within {timeout_s}s")


@contextmanager
def spawn(
    module: str, args: list[str], *, port: int, log_path: Path, ready_path: str,
    env: Mapping[str, str] | None = None, timeout_s: float = 30.0,
) -> Iterator[Child]:
    """`python -m module args` from the repo root; yields once it answers HTTP on `port`."""
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=REPO_ROOT,
            env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
        )
    child = Child(popen, f"http://127.0.0.1:{port}", log_path)
    try:
        _wait_ready(child, ready_path, timeout_s)
        yield child
    finally:
        popen.terminate()
        try:
            popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()


@contextmanager
def fake_provider(latency_ms: float, work_dir: Path) -> Iterator[Child]:
    """The loopback fake OpenAI server (with a gate) in its own process."""
    port = free_port()
    args = ["--port", str(port), "--latency-ms", str(latency_ms)]
    with spawn("bench.fake_provider", args, port=port, ready_path="/stats",
               log_path=work_dir / "fake_provider.log") as child:
        yield child


def platforms_toml(base_url: str, platforms: Mapping[str, int]) -> str:
    """A platforms file with one OpenAI-compatible platform per (id, max_concurrency)."""
    tables = []
    for pid, concurrency in platforms.items():
        tables.append(
            f'[platforms.{pid}]\nkind = "openai"\nbase_url = "{base_url}"\n'
            f'model = "{pid}-model"\nmax_concurrency = {concurrency}\ntimeout_s = 60.0\n'
        )
    return "\n".join(tables)


@contextmanager
def service(
    work_dir: Path, name: str, *, provider_url: str, platforms: Mapping[str, int],
    env: Mapping[str, str] | None = None,
) -> Iterator[Child]:
    """The real service (bench.server: `diagnosis serve` + bench routes) in its own process,
    on a fresh SQLite file; start rate limit off so a bench can start many executions."""
    port = free_port()
    platforms_file = work_dir / f"{name}.platforms.toml"
    platforms_file.write_text(platforms_toml(provider_url, platforms))
    variables = {
        "DIAGNOSIS_DATABASE_URL": f"sqlite+aiosqlite:///{work_dir / f'{name}.db'}",
        "DIAGNOSIS_PLATFORMS_FILE": str(platforms_file),
        "DIAGNOSIS_START_RATE_PER_MIN": "0",
        **(env or {}),
    }
    with spawn("bench.server", ["--port", str(port)], port=port, ready_path="/health",
               log_path=work_dir / f"{name}.log", env=variables) as child:
        yield child
