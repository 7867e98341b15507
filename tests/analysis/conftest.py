"""Fixtures (factories) for analysis tests: `ResultView`s as the report and renderers get them."""

from collections.abc import Callable
from typing import Any

import pytest

from diagnosis.analysis.report import ResultView
from tests.analysis.factories import OPEN, sources


@pytest.fixture
def make_result() -> Callable[..., ResultView]:
    """Factory: an ok, analysed result with the given mentions unless told otherwise.

    A result that is not ok has no answer, latency or analysis; only it keeps `error_kind`.
    """
    counter = iter(range(10_000))

    def make(
        template: str = OPEN,
        *,
        mentions: list[dict[str, Any]] | None = None,
        subject: str | None = None,
        platform: str = "deepseek",
        sample: int = 0,
        status: str = "ok",
        error_kind: str | None = None,
        answer: str = "…",
        analysed: bool = True,
        cited: tuple[str, ...] = (),
    ) -> ResultView:
        ok = status == "ok"
        return ResultView(
            task_key=f"t{next(counter)}",
            question=template.replace("{brand}", subject) if subject else template,
            template=template,
            subject=subject,
            platform=platform,
            sample=sample,
            status=status,
            error_kind=None if ok else error_kind,
            answer=answer if ok else None,
            latency_ms=120 if ok else None,
            analysis={"mentions": mentions or [], "sources": sources(*cited)}
            if ok and analysed
            else None,
        )

    return make
