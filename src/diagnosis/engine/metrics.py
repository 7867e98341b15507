"""Prometheus series of the service (SPEC 6), registered once per process.

Only counters, gauges and histograms: never a label that carries a key, a token or an answer.
"""

from prometheus_client import Counter, Gauge, Histogram

EXECUTIONS = Counter(
    "diagnosis_executions_total", "Executions that reached a terminal status", ["status"]
)
EXECUTIONS_RUNNING = Gauge("diagnosis_executions_running", "Executions running in this process")
PROVIDER_CALLS = Counter(
    "diagnosis_provider_calls_total", "HTTP attempts to AI platforms", ["platform", "outcome"]
)
CALL_LATENCY = Histogram(
    "diagnosis_provider_call_seconds",
    "Latency of one attempt to an AI platform",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60),
)
FLUSHES = Counter("diagnosis_progress_flushes_total", "Progress snapshots written to the database")
FLUSH_FAILURES = Counter("diagnosis_progress_flush_failures_total", "Progress writes that failed")
OUT_OF_SYNC = Counter(
    "diagnosis_cache_out_of_sync_total", "Status reads where cache and DB disagreed"
)
BREAKER_STATE = Gauge(
    "diagnosis_breaker_state", "Circuit breaker state (0 closed, 1 half-open, 2 open)", ["platform"]
)
SSE_SUBSCRIBERS = Gauge("diagnosis_sse_subscribers", "Open SSE subscriptions")
EXECUTIONS_BY_STATUS = Gauge(
    "diagnosis_executions_by_status", "Executions in the database by status", ["status"]
)
