"""Settings (SPEC 9): every default, the DIAGNOSIS_ prefix, and a .env file."""

import os

import pytest
from pydantic import ValidationError

from diagnosis.settings import Settings


def test_defaults_are_the_spec_values(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    settings = Settings()
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert (settings.flush_interval_s, settings.sync_tolerance, settings.global_concurrency) == (
        0.5, 10, 64)
    assert (settings.max_tasks, settings.default_deadline_s, settings.start_rate_per_min) == (
        1000, 300, 30)
    assert settings.api_tokens == "" and settings.token_owners() == {}
    assert settings.platforms_file is None


def test_environment_and_dotenv_are_read_with_the_prefix(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DIAGNOSIS_MAX_TASKS=250\nDIAGNOSIS_FLUSH_INTERVAL_S=0.2\n")
    monkeypatch.setenv("DIAGNOSIS_MAX_TASKS", "300")  # the environment wins over .env
    monkeypatch.setenv("DIAGNOSIS_API_TOKENS", "tok-a:alice, tok-b:bob ,tok-c")
    settings = Settings()
    assert settings.max_tasks == 300 and settings.flush_interval_s == 0.2
    assert settings.token_owners() == {"tok-a": "alice", "tok-b": "bob", "tok-c": "tok-c"}


def test_an_invalid_value_fails_at_start_naming_the_setting(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIAGNOSIS_FLUSH_INTERVAL_S", "-1")
    with pytest.raises(ValidationError, match="flush_interval_s"):
        Settings()


def test_the_queue_runner_refuses_to_start_without_redis_or_a_shared_secret() -> None:
    with pytest.raises(ValueError, match="DIAGNOSIS_REDIS_URL and DIAGNOSIS_STREAM_TOKEN_SECRET"):
        Settings(runner="queue")
    with pytest.raises(ValueError, match="DIAGNOSIS_STREAM_TOKEN_SECRET"):
        Settings(runner="queue", redis_url="redis://127.0.0.1:6379/0")


def test_analysis_processes_default_to_the_cores_less_one_and_refuse_a_negative(
    monkeypatch, tmp_path,
) -> None:
    from diagnosis.engine.analysis_pool import default_processes
    from diagnosis.engine.service import Engine
    from diagnosis.providers.registry import PlatformRegistry

    monkeypatch.chdir(tmp_path)
    # unset: the engine sizes its analysis processes to the cores it may run on, less one
    engine = Engine(Settings(), repository=None, registry=PlatformRegistry({}))
    cores = len(os.sched_getaffinity(0))
    assert engine.analyser.processes == default_processes() == max(1, cores - 1)
    monkeypatch.setenv("DIAGNOSIS_ANALYSIS_PROCESSES", "0")
    assert Engine(Settings(), None, PlatformRegistry({})).analyser.processes == 0
    monkeypatch.setenv("DIAGNOSIS_ANALYSIS_PROCESSES", "-1")
    with pytest.raises(ValidationError, match="analysis_processes"):
        Settings()


def test_long_answers_wait_50_ms_for_their_batch_unless_configured(monkeypatch, tmp_path) -> None:
    from diagnosis.engine.service import Engine
    from diagnosis.providers.registry import PlatformRegistry

    monkeypatch.chdir(tmp_path)
    assert Engine(Settings(), None, PlatformRegistry({})).analyser.batch_s == 0.05
    monkeypatch.setenv("DIAGNOSIS_ANALYSIS_BATCH_MS", "0")  # each answer at once
    assert Engine(Settings(), None, PlatformRegistry({})).analyser.batch_s == 0
    monkeypatch.setenv("DIAGNOSIS_ANALYSIS_BATCH_MS", "-5")
    with pytest.raises(ValidationError, match="analysis_batch_ms"):
        Settings()
