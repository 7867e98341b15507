"""Database faults, classified once for every caller (issue 14).

    transient  the database cannot write now and may later: locked or busy, disk full, I/O
               error, lost connection, pool or statement timeout. Retried; the API says 503.
    permanent  this data can never be written: an encoding, constraint or data error, or a value
               the driver cannot bind. Retrying it forever would wedge everything behind it.

Also `WriteHealth`: the outcome of the last write, which /health reports. Never raises, never
does I/O, never puts a value that was being written into a message.
"""

import time
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

# Driver errors that mean "not now": SQLAlchemy wraps each DB-API's own classes in these.
_TRANSIENT_DBAPI = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.InternalError)
_PERMANENT_DBAPI = (sa_exc.IntegrityError, sa_exc.DataError, sa_exc.ProgrammingError)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else (
            current.__cause__ or current.__context__
        )
    return seen


def is_database_error(exc: BaseException) -> bool:
    """An error raised by the database layer (SQLAlchemy, a driver, the pool, the disk)."""
    return any(
        isinstance(e, sa_exc.SQLAlchemyError | OSError | TimeoutError) for e in _chain(exc)
    )


# PostgreSQL SQLSTATEs that say "not now": connection (08), resources such as a full disk (53),
# operator intervention such as a shutdown (57P), query canceled by statement_timeout (57014),
# lock not available (55P03), serialization failure (40001), deadlock (40P01). asyncpg's errors
# reach SQLAlchemy as a plain DBAPIError, so the class alone cannot tell.
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P", "57014", "55P03", "40001", "40P01")


def _sqlstate(chain: list[BaseException]) -> str | None:
    for e in chain:
        code = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(code, str) and code:
            return code
    return None


def is_transient(exc: BaseException) -> bool:
    """True when the same write may succeed later; False when this data can never be written."""
    chain = _chain(exc)
    sqlstate = _sqlstate(chain)
    if sqlstate is not None:
        return sqlstate.startswith(_TRANSIENT_SQLSTATE_PREFIXES)
    if any(isinstance(e, (UnicodeError, *_PERMANENT_DBAPI)) for e in chain):
        return False
    if any(isinstance(e, _TRANSIENT_DBAPI) for e in chain):
        return True
    # The pool's own timeout, a lost socket, the disk: the database's state, not the data's.
    if any(
        isinstance(e, sa_exc.TimeoutError | sa_exc.DisconnectionError | OSError | TimeoutError)
        for e in chain
    ):
        return True
    # A StatementError without a driver error under it: the value could not be bound
    # (a type or serialisation error), which no retry changes.
    return False


def reason(exc: BaseException) -> str:
    """A short, value-free description: the error classes and the driver's first line.

    A driver message names the failing operation ('database is locked', 'disk I/O error'), never
    the bound values; SQLAlchemy's own text (which can include parameters) is left out.
    """
    chain = _chain(exc)
    innermost = chain[-1]
    if isinstance(innermost, UnicodeError):
        return f"{type(innermost).__name__}: text that cannot be encoded"
    message = str(innermost).splitlines()[0][:160] if str(innermost) else ""
    return f"{type(innermost).__name__}: {message}" if message else type(innermost).__name__


def masked_url(database_url: str) -> str:
    """The URL with its password hidden, for a start-up error line."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show nothing of it that could be a secret
        return "<unparsable database URL>"


@dataclass
class WriteHealth:
    """The outcome of the most recent write: what /health reports between its own probes."""

    ok: bool = True
    last_error: str | None = None
    last_write_at: float = float("-inf")  # time.monotonic() of the last outcome

    def succeeded(self) -> None:
        self.ok, self.last_error, self.last_write_at = True, None, time.monotonic()

    def failed(self, exc: BaseException) -> None:
        if is_transient(exc):  # a permanent error is about the data, not the database
            self.ok, self.last_error = False, reason(exc)
        self.last_write_at = time.monotonic()

    def age_s(self) -> float:
        return time.monotonic() - self.last_write_at
