"""The start-up heap is frozen once the lifespan has started (SPEC 4's long-running service):
after migration, resume and the monitors, and with the service's collector thresholds."""

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from diagnosis.api import app as app_module
from diagnosis.engine.runner import InProcessRunner
from diagnosis.heap import SERVICE_THRESHOLDS
from diagnosis.monitors.runtime import MonitorRuntime


@pytest.fixture
def default_collector() -> Iterator[None]:
    """CPython's own collector state before the test, and again after it."""
    before = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


async def test_the_heap_is_frozen_with_the_service_thresholds_once_the_lifespan_started(
    api_client: Any, default_collector: None
) -> None:
    # given a collector with nothing frozen
    assert gc.get_freeze_count() == 0

    # when the app's lifespan has started
    async with api_client() as (client, _app):
        frozen, threshold = gc.get_freeze_count(), gc.get_threshold()
        health = await client.get("/health")

    # then start-up's objects are out of the collector's sight, and it still serves
    assert frozen > 0
    assert threshold == SERVICE_THRESHOLDS
    assert health.status_code == 200


async def test_the_heap_is_frozen_after_migration_resume_and_the_monitors(
    api_client: Any, monkeypatch: pytest.MonkeyPatch, default_collector: None
) -> None:
    # given each start-up step recorded in the order it happens
    steps: list[str] = []

    def recorded(name: str, original: Any) -> Any:
        async def step(*args: Any, **kwargs: Any) -> Any:
            steps.append(name)
            return await original(*args, **kwargs)

        return step

    monkeypatch.setattr(app_module, "migrate", recorded("migrate", app_module.migrate))
    monkeypatch.setattr(InProcessRunner, "resume_unfinished",
                        recorded("resume", InProcessRunner.resume_unfinished))
    monkeypatch.setattr(MonitorRuntime, "start", recorded("monitors", MonitorRuntime.start))
    monkeypatch.setattr(app_module, "freeze_startup_heap", lambda: steps.append("freeze"))

    # when the lifespan starts
    async with api_client():
        pass

    # then exactly one freeze, after everything start-up builds
    assert steps == ["migrate", "resume", "monitors", "freeze"]


def test_the_first_answer_after_start_up_builds_no_tables(default_collector: None) -> None:
    # given a service whose start-up is done (the heap frozen)
    from diagnosis.analysis import BrandSpec, analyze_answer
    from diagnosis.heap import freeze_startup_heap

    freeze_startup_heap()
    # when its first answer with a URL is analysed
    brands = [BrandSpec("蔚来", ("NIO",), is_own=True), BrandSpec("理想")]
    gc.collect()
    before = len(gc.get_objects())
    kept = analyze_answer("1. **蔚来**：服务很好。\n参考：https://www.dongchedi.com/article/7",
                          brands)
    gc.collect()
    # then what stays is its analysis and the brand list's matcher, not a suffix trie of
    # ~17 000 objects or the lexicon's tables
    assert kept["sources"] and len(gc.get_objects()) - before < 500
