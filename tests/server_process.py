"""A real `diagnosis serve` process for tests about the process itself: signals, the HTTP
server's limits, database faults. Settings go in as environment variables, as an operator's do.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.api.conftest import free_port


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    base_url: str
    port: int

    def stderr_text(self) -> str:
        """All of stderr, once the process has ended."""
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")


def fake_platforms_toml(fake_base_url: str, *, model: str = "proc-model",
                        max_concurrency: int = 4) -> str:
    return (
        f'[platforms.fake]\nkind = "openai"\nbase_url = "{fake_base_url}"\n'
        f'model = "{model}"\nmax_concurrency = {max_concurrency}\nmax_retries = 0\n'
        "timeout_s = 10.0\n"
    )


def start(tmp_path: Path, *, platforms: str = "", database_url: str | None = None,
          wait_healthy: bool = True, **env: str) -> ServerProcess:
    platforms_file = tmp_path / "platforms.toml"
    platforms_file.write_text(platforms)
    port = free_port()
    environment = {
        **os.environ,
        "DIAGNOSIS_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{tmp_path / 'proc.db'}",
        "DIAGNOSIS_PLATFORMS_FILE": str(platforms_file),
        "DIAGNOSIS_FLUSH_INTERVAL_S": "0.05",
        "DIAGNOSIS_LOG_LEVEL": "WARNING",
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "diagnosis.cli", "serve", "--port", str(port)],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    server = ServerProcess(proc, f"http://127.0.0.1:{port}", port)
    if wait_healthy:
        wait_until_serving(server)
    return server


def wait_until_serving(server: ServerProcess, bound_s: float = 30.0) -> None:
    deadline = time.monotonic() + bound_s
    while True:
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.proc.poll() is not None or time.monotonic() > deadline:
            server.proc.kill()
            raise RuntimeError(f"server did not start: {server.stderr_text()[-2000:]}")
        time.sleep(0.05)


@contextmanager
def running(tmp_path: Path, **kwargs: str) -> Iterator[ServerProcess]:
    server = start(tmp_path, **kwargs)
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(timeout=10)
