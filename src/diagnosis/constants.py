"""Vocabulary shared by every layer: statuses, stages, error kinds.

The bottom of the import graph (like arq's constants): it imports nothing from the package.
"""

from enum import StrEnum


class ExecutionStatus(StrEnum):
    queued = "queued"
    running = "running"
    completed = "completed"
    partial_success = "partial_success"
    failed = "failed"
    cancelled = "cancelled"
    timeout = "timeout"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {
        ExecutionStatus.completed,
        ExecutionStatus.partial_success,
        ExecutionStatus.failed,
        ExecutionStatus.cancelled,
        ExecutionStatus.timeout,
    }
)


class Stage(StrEnum):
    init = "init"
    ai_fetching = "ai_fetching"
    analyzing = "analyzing"
    done = "done"


class ResultStatus(StrEnum):
    pending = "pending"  # internal only: a task row whose call has not finished
    ok = "ok"
    error = "error"
    cancelled = "cancelled"


class ErrorKind(StrEnum):
    timeout = "timeout"
    rate_limited = "rate_limited"
    server_error = "server_error"
    auth = "auth"
    bad_request = "bad_request"
    bad_response = "bad_response"
    network = "network"
    circuit_open = "circuit_open"
    deadline = "deadline"
    cancelled = "cancelled"


# SPEC 4: retried on timeout, network errors, 408 (a timeout), 429 and 5xx only.
RETRYABLE_KINDS = frozenset(
    {ErrorKind.timeout, ErrorKind.network, ErrorKind.rate_limited, ErrorKind.server_error}
)
# SPEC 4: what the breaker counts as a failure (a 429 or other 4xx does not count).
BREAKER_FAILURE_KINDS = frozenset(
    {ErrorKind.timeout, ErrorKind.network, ErrorKind.server_error, ErrorKind.bad_response}
)
