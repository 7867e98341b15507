"""Column types shared by the tables: timezone-aware UTC datetimes on any database.

Portable SQLAlchemy types only; never dialect-specific SQL (that belongs in db.py).
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, always reads back an aware UTC datetime.

    SQLite keeps no tzinfo, so a naive value read back is UTC by construction. A naive value
    written is taken to be UTC already (the service only ever produces UTC timestamps).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        # SQLite's DATETIME formatter drops tzinfo, so normalise the wall time to UTC first.
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
