"""A real server process killed mid-run (SIGKILL) or stopped (SIGTERM), then restarted on the
same database (a SQLite file, a PostgreSQL database `serve` migrated from empty): the execution
completes with exactly one row per task (SPEC 3, 4)."""

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import free_port
from tests.fake_openai import ok

pytestmark = pytest.mark.slow
TASKS = 40


def start_server(
    tmp_path: Path, database_url: str, fake_base_url: str
) -> tuple[subprocess.Popen, str]:
    platforms = tmp_path / "platforms.toml"
    platforms.write_text(
        f'[platforms.fake]\nkind = "openai"\nbase_url = "{fake_base_url}"\n'
        'model = "crash-model"\nmax_concurrency = 4\nmax_retries = 0\ntimeout_s = 10.0\n'
    )
    port = free_port()
    env = {
        **os.environ,
        "DIAGNOSIS_DATABASE_URL": database_url,
        "DIAGNOSIS_PLATFORMS_FILE": str(platforms),
        "DIAGNOSIS_FLUSH_INTERVAL_S": "0.05",
        "DIAGNOSIS_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "diagnosis.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.05)


def poll_status(base: str, eid: str, until, bound_s: float = 60.0) -> dict:
    deadline = time.monotonic() + bound_s
    while True:
        body = httpx.get(f"{base}/api/diagnoses/{eid}", timeout=5).json()
        if until(body):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def start_run(base: str) -> str:
    created = httpx.post(
        f"{base}/api/diagnoses",
        json={
            "brand": "蔚来",
            "platforms": ["fake"],
            "questions": [f"问题{i}" for i in range(TASKS)],
        },
        timeout=10,
    )
    assert created.status_code == 202, created.text
    return created.json()["execution_id"]


def rows_after_restart(tmp_path: Path, database_url: str, fake, eid: str) -> tuple[dict, dict]:
    proc, base = start_server(tmp_path, database_url, fake.base_url)
    try:
        final = poll_status(base, eid, lambda b: b["is_completed"])
        results = httpx.get(f"{base}/api/diagnoses/{eid}/results?limit=500", timeout=5).json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return final, results


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_a_stopped_server_resumes_with_one_row_per_task(
    tmp_path, make_database_url, fake_openai, sig
) -> None:
    database_url = make_database_url("crash", empty=True)
    fake_openai.default("crash-model", ok("1. 蔚来 不错", latency_s=0.15))
    proc, base = start_server(tmp_path, database_url, fake_openai.base_url)
    try:
        eid = start_run(base)
        # when some results are durable and calls are in flight, the process stops
        poll_status(base, eid, lambda b: b["completed"] >= 8)
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    calls_before_restart = len(fake_openai.calls_for("crash-model"))
    assert calls_before_restart < TASKS  # it really stopped mid-run
    # then a new process on the same file finishes it
    final, results = rows_after_restart(tmp_path, database_url, fake_openai, eid)
    assert final["status"] == "completed" and final["progress"] == 100
    assert results["total"] == TASKS
    assert len({r["task_key"] for r in results["items"]}) == TASKS
    assert all(r["status"] == "ok" for r in results["items"])
    per_prompt = collections.Counter(c.prompt for c in fake_openai.calls_for("crash-model"))
    assert set(per_prompt) == {f"问题{i}" for i in range(TASKS)}
    assert max(per_prompt.values()) <= 2  # each task called again at most once
