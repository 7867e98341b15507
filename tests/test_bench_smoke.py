"""`make bench` stays runnable: its smallest configuration runs end to end and reports."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_bench_prints_the_table_and_writes_the_report(tmp_path: Path) -> None:
    # given: the bench's tiny sizes, writing to a scratch file (never the repo's BENCHMARKS.md)
    out = tmp_path / "BENCHMARKS.md"

    # when
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )

    # then
    assert done.returncode == 0, done.stderr[-3000:]
    for title in ("1. Fan-out makespan", "2. Write coalescing", "3. Status route under load",
                  "4. SSE fan-out", "5. Memory and the engine cache",
                  "1b. Client behind the Provider protocol", "1c. Client baselines side by side",
                  "6. Server CPU per task, GC and loop stalls", "6b. Analysis per answer",
                  "6c. The collector", "6d. The analysis process"):
        assert title in done.stdout
        assert f"## {title}" in out.read_text()
    assert "## Machine" in out.read_text()
