"""Database trouble on a real server process (issue 14, 2 and 4): a locked or full database is a
503 with Retry-After that writes nothing, /health tells the truth and recovers, SIGTERM ends even
while writes fail, and a database that cannot be opened stops the start with one line."""

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests import server_process
from tests.fake_openai import ok

pytestmark = pytest.mark.slow

DEMO = {"brand": "蔚来", "competitors": ["理想"], "platforms": ["demo"], "questions": ["q"]}


def executions(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM executions").fetchone()[0])


def wait_for(predicate, bound_s: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + bound_s
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not reached within {bound_s} s"
        time.sleep(0.05)


@contextmanager
def write_lock(db: Path) -> Iterator[None]:
    """Another process holds SQLite's write lock (as a backup tool or a stuck writer would)."""
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def health(base: str) -> httpx.Response:
    return httpx.get(f"{base}/health", timeout=30)


def test_a_locked_database_answers_503_with_retry_after_and_health_says_so(tmp_path):
    db = tmp_path / "proc.db"
    with server_process.running(tmp_path, DIAGNOSIS_SQLITE_BUSY_TIMEOUT_S="0.3") as server:
        base = server.base_url
        # given another process holding the write lock
        with write_lock(db):
            # when a diagnosis is started, then: 503, Retry-After, a clear detail
            refused = httpx.post(f"{base}/api/diagnoses", json=DEMO, timeout=30)
            assert refused.status_code == 503, refused.text
            assert int(refused.headers["retry-after"]) > 0
            assert "database" in refused.json()["detail"]
            # and /health says the database cannot be used
            down = health(base)
            assert down.status_code == 503 and down.json()["database"] is False
            # reads still work (WAL): the history answers, empty
            assert httpx.get(f"{base}/api/diagnoses", timeout=30).json()["total"] == 0
        # then nothing was written, and once the lock is gone everything recovers
        assert executions(db) == 0
        wait_for(lambda: health(base).status_code == 200, what="/health 200 after the lock")
        assert httpx.post(f"{base}/api/diagnoses", json=DEMO, timeout=30).status_code == 202


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs: a real disk that can be filled."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_answers_503_and_health_recovers_when_space_returns(tmp_path, tiny_disk):
    db = tiny_disk / "full.db"
    url = f"sqlite+aiosqlite:///{db}"
    with server_process.running(tmp_path, database_url=url) as server:
        base = server.base_url
        assert httpx.post(f"{base}/api/diagnoses", json=DEMO, timeout=30).status_code == 202
        wait_for(lambda: httpx.get(f"{base}/api/diagnoses", timeout=30).json()["items"][0][
            "status"] == "completed", what="the first diagnosis to complete")
        # given a disk with no space left (and no WAL space to reuse)
        with sqlite3.connect(db) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        filler = fill(tiny_disk)
        # when a diagnosis is started: 503 with Retry-After, nothing written
        refused = httpx.post(f"{base}/api/diagnoses", json=DEMO, timeout=30)
        assert refused.status_code == 503, refused.text
        assert "retry-after" in refused.headers
        down = health(base)
        assert down.status_code == 503 and down.json()["database"] is False
        # then, with space again, /health and starts recover
        filler.unlink()
        wait_for(lambda: health(base).status_code == 200, what="/health 200 with space again")
        assert httpx.post(f"{base}/api/diagnoses", json=DEMO, timeout=30).status_code == 202
        assert executions(db) == 2


def test_sigterm_ends_while_writes_fail_and_the_next_start_finishes_the_run(
    tmp_path, fake_openai
):
    db = tmp_path / "proc.db"
    fake_openai.default("proc-model", ok(latency_s=0.3))
    platforms = server_process.fake_platforms_toml(fake_openai.base_url)
    settings = {"DIAGNOSIS_SQLITE_BUSY_TIMEOUT_S": "0.5", "DIAGNOSIS_SHUTDOWN_TIMEOUT_S": "6"}
    server = server_process.start(tmp_path, platforms=platforms, **settings)
    try:
        body = {"brand": "蔚来", "platforms": ["fake"], "questions": [f"q{i}" for i in range(16)]}
        created = httpx.post(f"{server.base_url}/api/diagnoses", json=body, timeout=30)
        assert created.status_code == 202, created.text
        eid = created.json()["execution_id"]
        fake_openai.wait_for_calls(1, timeout=30)
        # given writes that fail (another process holds the lock) while answers keep coming
        with write_lock(db):
            fake_openai.wait_for_calls(9, timeout=30)
            # when the server gets SIGTERM
            server.proc.send_signal(signal.SIGTERM)
            # then it exits, and says with counts what it could not write
            server.proc.wait(timeout=60)
            stderr = server.stderr_text()
        assert "could not be written" in stderr or "unwritten" in stderr, stderr[-3000:]
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
    # when the server starts again on the same file, the run is resumed to the end
    with server_process.running(tmp_path, platforms=platforms) as again:

        def ended() -> dict | None:
            view = httpx.get(f"{again.base_url}/api/diagnoses/{eid}", timeout=30).json()
            return view if view["status"] not in ("queued", "running") else None

        status = wait_for(ended, bound_s=60, what="the resumed run to end")
    assert status["status"] == "completed" and status["progress"] == 100
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT task_key), sum(status = 'ok') FROM task_results "
            "WHERE execution_id = ?", (eid,)).fetchone()
    assert tuple(rows) == (16, 16, 16)


def test_an_unusable_database_stops_the_start_with_one_line_naming_it(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    urls = {
        f"sqlite+aiosqlite:///{blocker}/sub/x.db": f"{blocker}/sub/x.db",
        "postgresql+asyncpg://diag:s3cret-pass@127.0.0.1:1/nodb": "diag:***@127.0.0.1:1/nodb",
    }
    for url, shown in urls.items():
        done = subprocess.run(
            [sys.executable, "-m", "diagnosis.cli", "serve", "--port", "1"],
            env={**server_process.os.environ, "DIAGNOSIS_DATABASE_URL": url},
            capture_output=True, timeout=60,
        )
        stderr = done.stderr.decode()
        assert done.returncode == 1, stderr
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1, stderr
        assert shown in lines[0] and "cannot use the database" in lines[0]
        assert "s3cret" not in stderr and "Traceback" not in stderr
