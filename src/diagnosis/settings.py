"""One Settings object (SPEC 9): every limit of the service, from `DIAGNOSIS_*` and `.env`.

Never holds a provider key: the platform registry reads keys from the environment at call time.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DIAGNOSIS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite+aiosqlite:///./diagnosis.db"
    platforms_file: Path | None = None
    flush_interval_s: float = Field(0.5, gt=0)
    sync_tolerance: int = Field(10, ge=0, le=100)
    global_concurrency: int = Field(64, ge=1)
    max_tasks: int = Field(1000, ge=1)
    default_deadline_s: int = Field(300, ge=1, le=3600)
    # "token:owner,token2:owner2"; empty = open service (local use).
    api_tokens: str = ""
    start_rate_per_min: int = Field(30, ge=0)
    max_body_bytes: int = 64 * 1024
    sse_keepalive_s: float = Field(15.0, gt=0)
    # An SSE stream that got no event for this long reads the status from the DB again (a lost
    # pub/sub message between instances costs at most this delay).
    sse_recheck_s: float = Field(10.0, gt=0)
    log_json: bool = False
    log_level: str = "INFO"
    # Retry backoff (SPEC 4): 0.5 s x 2^n with jitter, capped; Retry-After capped at 60 s.
    retry_backoff_s: float = Field(0.5, ge=0)
    retry_backoff_cap_s: float = Field(8.0, ge=0)
    retry_after_cap_s: float = Field(60.0, ge=0)
    # An answer longer than this is cut and its result flagged `truncated` (issue 14).
    max_answer_chars: int = Field(100_000, ge=1000)
    # Answers over 1000 characters are analysed in this many worker processes, off the event
    # loop (engine/analysis_pool.py); unset: one less than the cores, at least 1; 0: in a thread.
    analysis_processes: int | None = Field(None, ge=0, le=64)
    # ... in batches: the answers that arrive within this many milliseconds go to a worker
    # together (a worker woken per answer runs cold, issue 13); 0: each answer at once.
    analysis_batch_ms: float = Field(50.0, ge=0, le=60_000)
    # An execution with at least this many tasks to run starts the analysis processes as it
    # starts, and its short answers go there too instead of the loop (issue 13).
    analysis_prestart_tasks: int = Field(100, ge=1)
    # SIGTERM ends within this, even with a failing database (what is unwritten is logged).
    shutdown_timeout_s: float = Field(15.0, gt=0)
    # HTTP server limits (api/http_guard.py): head size and count, slow heads and bodies, and
    # open connections (beyond it uvicorn answers 503).
    http_max_header_bytes: int = Field(32 * 1024, ge=1024)
    http_max_headers: int = Field(100, ge=10)
    http_header_timeout_s: float = Field(10.0, gt=0)
    http_body_timeout_s: float = Field(30.0, gt=0)
    http_max_connections: int = Field(2048, ge=1)
    # SQLite: how long a writer waits for another process's write lock (SPEC 9: >= 5 s).
    sqlite_busy_timeout_s: float = Field(5.0, gt=0)
    # PostgreSQL (SPEC 11): connections per pool (one for reads, one for writes) and how long one
    # statement may run before the server cancels it.
    db_pool_size: int = Field(10, ge=1)
    db_statement_timeout_s: float = Field(30.0, gt=0)
    # The LLM judge (SPEC 8, 9): a platform id that relabels each ok answer's sentiment and
    # stance after the fan-out (empty: the rules judge only), within this many seconds.
    judge_platform: str = ""
    judge_deadline_s: float = Field(60.0, gt=0)
    # Monitors (SPEC 12, docs/monitors.md): the shortest interval a schedule may have; how often
    # the scheduler looks for due slots and finished runs at the latest; webhook delivery tries,
    # first backoff (doubling, capped at 60 s) and per-try timeout; the dashboard's address for
    # report links in alerts (empty: links are relative paths).
    monitor_min_interval_s: int = Field(300, ge=1)
    monitor_tick_s: float = Field(5.0, gt=0)
    monitor_webhook_attempts: int = Field(5, ge=1, le=20)
    monitor_webhook_backoff_s: float = Field(1.0, ge=0)
    monitor_webhook_timeout_s: float = Field(10.0, gt=0)
    public_url: str = ""
    # Sources (SPEC 8, docs/analysis.md "Sources"): a JSON or TOML file of {kind: [domains]}
    # merged over analysis/domain_kinds.json (its entries win); empty: the default table only.
    domain_kinds_file: Path | None = None

    # Scale-out (SPEC 11, docs/scale-out.md). `inprocess`: this process runs what it starts.
    # `queue`: `diagnosis serve` only enqueues and `diagnosis worker` runs executions; both need
    # Redis, and every instance the same STREAM_TOKEN_SECRET (else one instance's stream tokens
    # are refused by the others).
    redis_url: str = ""
    # Every Redis key of this deployment starts with it (two deployments can share a server).
    redis_prefix: str = Field("diagnosis", pattern=r"^[A-Za-z0-9_:.-]{1,64}$")
    runner: Literal["inprocess", "queue"] = "inprocess"
    stream_token_secret: SecretStr = SecretStr("")
    # A worker's job heartbeat: a job not touched for this long is swept and handed to another
    # worker; how often each worker sweeps; how long a platform slot's lease lives unrenewed
    # (a dead worker's slots free themselves after it); how often the reconciler compares the
    # database with the queue; how often the live cache is copied to Redis at most.
    worker_heartbeat_s: int = Field(10, ge=2, le=300)
    worker_sweep_s: int = Field(5, ge=1, le=300)
    lease_ttl_s: float = Field(10.0, ge=1)
    reconcile_interval_s: float = Field(60.0, gt=0)
    live_cache_interval_s: float = Field(0.1, gt=0)

    @field_validator("platforms_file", "domain_kinds_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value

    @model_validator(mode="after")
    def _queue_needs_redis_and_secret(self) -> Self:
        if self.runner == "queue":
            missing = [name for name, value in (
                ("DIAGNOSIS_REDIS_URL", self.redis_url),
                ("DIAGNOSIS_STREAM_TOKEN_SECRET", self.stream_token_secret.get_secret_value()),
            ) if not value]
            if missing:
                raise ValueError(f"DIAGNOSIS_RUNNER=queue needs {' and '.join(missing)}")
        return self

    def token_owners(self) -> dict[str, str]:
        """Parse `api_tokens` into {token: owner}; a token without owner is its own owner."""
        pairs: dict[str, str] = {}
        for item in self.api_tokens.split(","):
            item = item.strip()
            if not item:
                continue
            token, _, owner = item.partition(":")
            pairs[token.strip()] = owner.strip() or token.strip()
        return pairs


@lru_cache
def get_settings() -> Settings:
    return Settings()
