"""The providers' exception tree: every outcome of a platform call that is not an answer.

    ProviderError (kind: ErrorKind, message, status_code, retry_after_s)

One class with a `kind` rather than a subclass per kind: the engine's retry, breaker and
result logic all branch on the kind, and the kind is what a result stores. Messages never
contain a key or a whole answer.
"""

from diagnosis.constants import ErrorKind


class ProviderError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status_code = status_code
        self.retry_after_s = retry_after_s

    def __repr__(self) -> str:
        return f"ProviderError(kind={self.kind.value!r}, status_code={self.status_code!r})"
