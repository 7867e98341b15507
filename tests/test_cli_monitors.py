"""`diagnosis monitor add|list|run|trend` in a subprocess, on a SQLite file and the demo
platform: a monitor is added (validated like the API), listed, run now, and its trend shown."""

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    import os

    platforms = tmp_path / "platforms.toml"
    platforms.write_text("[platforms.demo]\ndemo_latency_ms = 5\ndemo_jitter_ms = 2\n")
    base = {k: v for k, v in os.environ.items() if not k.startswith("DIAGNOSIS_")}
    return {**base, "DIAGNOSIS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
            "DIAGNOSIS_PLATFORMS_FILE": str(platforms), "COLUMNS": "200",
            "DIAGNOSIS_MONITOR_WEBHOOK_ATTEMPTS": "1"}


def monitor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "diagnosis.cli", "monitor", *args], env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_add_list_run_and_trend_a_monitor(env):
    added = monitor(env, "add", "--name", "weekly", "--brand", "蔚来", "--competitor", "理想",
                    "--question", "新能源汽车品牌推荐", "--cron", "0 9 * * 1",
                    "--timezone", "Asia/Shanghai", "--alert",
                    '{"metric": "mention_rate", "below": 2}', "--webhook-url",
                    "https://example.invalid/hook", "--webhook-secret", "HIDDEN")
    assert added.returncode == 0, added.stderr
    monitor_id = added.stdout.split()[0]
    listed = monitor(env, "list")
    assert monitor_id in listed.stdout and "HIDDEN" not in listed.stdout

    ran = monitor(env, "run", monitor_id)
    assert ran.returncode == 0, ran.stderr
    assert "completed" in ran.stdout and "alerts=1" in ran.stdout

    trend = monitor(env, "trend", monitor_id, "--format", "json")
    points = json.loads(trend.stdout)
    assert len(points) == 1 and [b["name"] for b in points[0]["brands"]] == ["蔚来", "理想"]
    assert "蔚来" in monitor(env, "trend", monitor_id).stdout


def test_a_monitor_more_frequent_than_the_minimum_is_refused(env):
    refused = monitor(env, "add", "--name", "x", "--brand", "蔚来", "--every", "10")
    assert refused.returncode == 1 and "interval_s" in refused.stderr
