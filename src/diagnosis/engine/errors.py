"""The engine's domain errors; the API's one error handler turns them into status codes.

DiagnosisError
├── NotFound            404 (also another owner's execution)
├── Conflict            409 (cancel a finished one, report/retry before the end)
├── UnknownPlatforms    400 with available_platforms
├── TooManyTasks        422 (max_tasks)
├── RateLimited         429 with retry_after (the start rate, SPEC 9)
└── Unavailable         503 (neither the DB nor the cache can answer)
"""

from typing import Any


class DiagnosisError(Exception):
    status_code = 400

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DiagnosisError):
    status_code = 404


class Conflict(DiagnosisError):
    status_code = 409


class UnknownPlatforms(DiagnosisError):
    status_code = 400


class TooManyTasks(DiagnosisError):
    status_code = 422


class RateLimited(DiagnosisError):
    status_code = 429


class Unavailable(DiagnosisError):
    status_code = 503
