"""The `diagnosis` command (SPEC 2) in a subprocess: `run` prints a report (json, md), `platforms`
lists the platforms without keys, and mistakes exit 1 with a clear message."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.databases import MakeDatabaseUrl

SECRET = "sk-secret-xyz"


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    platforms = tmp_path / "platforms.toml"
    platforms.write_text("[platforms.demo]\ndemo_latency_ms = 5\ndemo_jitter_ms = 2\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIAGNOSIS_")}
    env.pop("DEEPSEEK_API_KEY", None)
    env.update({
        "DIAGNOSIS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "DIAGNOSIS_PLATFORMS_FILE": str(platforms),
        "COLUMNS": "200",
    })
    return env


@pytest.fixture
def run_env(cli_env: dict[str, str], make_database_url: MakeDatabaseUrl) -> dict[str, str]:
    """cli_env on an empty database of each dialect (tests.databases): `run` migrates it."""
    return {**cli_env, "DIAGNOSIS_DATABASE_URL": make_database_url("cli", empty=True)}


def diagnosis(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "diagnosis.cli", *args], env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )


def test_run_prints_a_json_report_with_the_brands(run_env):
    result = diagnosis(run_env, "run", "--platform", "demo", "--brand", "蔚来",
                       "--competitor", "理想", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [b["name"] for b in report["brands"]] == ["蔚来", "理想"]
    assert report["brands"][0]["is_own"] is True
    assert report["status"] == "completed"
    assert "progress" in result.stderr  # progress goes to stderr, the report alone to stdout


def test_run_prints_a_markdown_report(run_env):
    result = diagnosis(run_env, "run", "--platform", "demo", "--brand", "蔚来",
                       "--competitor", "理想", "--question", "推荐一款车", "--format", "md")
    assert result.returncode == 0, result.stderr
    assert result.stdout.lstrip().startswith("#")
    assert "蔚来" in result.stdout and "理想" in result.stdout
    assert "|" in result.stdout  # a markdown table of the brands


def test_platforms_lists_presets_and_demo_and_never_a_key(cli_env):
    # given deepseek's key is set
    env = {**cli_env, "DEEPSEEK_API_KEY": SECRET}
    result = diagnosis(env, "platforms")
    assert result.returncode == 0, result.stderr
    lines = {line.split("│")[1].strip(): line for line in result.stdout.splitlines()
             if line.count("│") > 2}
    assert {"deepseek", "qwen", "ollama", "demo"} <= set(lines)
    assert "yes" in lines["demo"] and "yes" in lines["deepseek"]
    assert "no (set" in lines["qwen"]
    assert SECRET not in result.stdout + result.stderr


def test_platforms_without_the_key_says_how_to_configure(cli_env):
    result = diagnosis(cli_env, "platforms")
    assert result.returncode == 0, result.stderr
    deepseek = next(line for line in result.stdout.splitlines() if "deepseek" in line)
    assert "DEEPSEEK_API_KEY" in deepseek


def test_an_unknown_platform_exits_1_with_a_clear_message(cli_env):
    result = diagnosis(cli_env, "run", "--platform", "nope", "--brand", "蔚来")
    assert result.returncode == 1
    assert "unknown or unconfigured platforms: nope" in result.stderr
    assert "available platforms:" in result.stderr and "demo" in result.stderr
    assert result.stdout == ""


def test_an_invalid_brand_exits_1_naming_the_field(cli_env):
    result = diagnosis(cli_env, "run", "--platform", "demo", "--brand", "   ")
    assert result.returncode == 1
    assert "brand" in result.stderr
    assert result.stdout == ""


def test_a_malformed_platforms_file_stops_the_command_with_its_name(tmp_path) -> None:
    bad = tmp_path / "platforms.toml"
    bad.write_text('[platforms.deepseek]\nkind = "foo"\n')
    env = {**os.environ, "DIAGNOSIS_PLATFORMS_FILE": str(bad),
           "DIAGNOSIS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"}
    for args in (["platforms"], ["run", "--brand", "蔚来"]):
        done = subprocess.run([sys.executable, "-m", "diagnosis.cli", *args], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "platforms.toml" in done.stderr and "kind" in done.stderr
        assert "Traceback" not in done.stderr
