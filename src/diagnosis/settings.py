"""One Settings object (SPEC 9): every limit of the service, from `DIAGNOSIS_*` and `.env`.

Never holds a provider key: the platform registry reads keys from the environment at call time.
"""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
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
    log_json: bool = False
    log_level: str = "INFO"
    # Retry backoff (SPEC 4): 0.5 s x 2^n with jitter, capped; Retry-After capped at 60 s.
    retry_backoff_s: float = Field(0.5, ge=0)
    retry_backoff_cap_s: float = Field(8.0, ge=0)
    retry_after_cap_s: float = Field(60.0, ge=0)
    # An answer longer than this is cut and its result flagged `truncated` (issue 14).
    max_answer_chars: int = Field(100_000, ge=1000)
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

    @field_validator("platforms_file", "domain_kinds_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value in ("", None) else value

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
