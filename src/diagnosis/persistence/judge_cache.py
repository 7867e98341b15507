"""The LLM judge's cache and its write-back: verdicts per (answer, brands, model) and the judged
analysis of a result (issue 12).

SQLAlchemy Core over `JudgeVerdict` and `TaskResult` only, nothing dialect-specific: the same
statements run on SQLite and PostgreSQL. Never awaits HTTP inside a transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from diagnosis.persistence.db import Database
from diagnosis.persistence.models import JudgeVerdict, TaskResult, utcnow
from diagnosis.persistence.repository import Repository

_VERDICTS = JudgeVerdict.__table__  # type: ignore[attr-defined]
_RESULTS = TaskResult.__table__  # type: ignore[attr-defined]


class JudgeCache:
    """Cached judge verdicts ({brand: {"sentiment", "stance"}}) and judged analyses."""

    def __init__(self, database: Database) -> None:
        self._reader = database.reader
        self._writer = database.writer

    @classmethod
    def of(cls, repository: Repository) -> JudgeCache:
        """The cache on the repository's own engines (same pools, same write lock): the
        persistence package's internal view of its repository."""
        return cls(Database(reader=repository._reader, writer=repository._writer))

    async def get(self, key: str) -> dict[str, Any] | None:
        async with self._reader.connect() as conn:
            row = await conn.execute(
                sa.select(_VERDICTS.c.verdicts).where(_VERDICTS.c.key == key)
            )
            found = row.scalar_one_or_none()
        return dict(found) if isinstance(found, Mapping) else None

    async def put(self, key: str, *, model: str, verdicts: Mapping[str, Any]) -> None:
        """Keeps the first verdicts stored under a key (a concurrent twin is the same answer)."""
        try:
            async with self._writer.begin() as conn:
                exists = await conn.execute(
                    sa.select(_VERDICTS.c.key).where(_VERDICTS.c.key == key)
                )
                if exists.first() is None:
                    await conn.execute(
                        sa.insert(_VERDICTS).values(
                            key=key, model=model, verdicts=dict(verdicts), created_at=utcnow()
                        )
                    )
        except IntegrityError:
            pass  # another instance stored it between our select and insert

    async def save_analysis(
        self, execution_id: str, task_key: str, analysis: Mapping[str, Any]
    ) -> None:
        """Replace an ok result's analysis with the judged one."""
        async with self._writer.begin() as conn:
            await conn.execute(
                sa.update(_RESULTS)
                .where(
                    _RESULTS.c.execution_id == execution_id,
                    _RESULTS.c.task_key == task_key,
                    _RESULTS.c.status == "ok",
                )
                .values(analysis=dict(analysis))
            )
