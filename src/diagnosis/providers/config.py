"""One platform's configuration (SPEC 7): where to call, which model, and its limits.

Never holds a key: it names the environment variable and reads it at call time, so a key can
not end up in a repr, a model_dump, a log line or an API response.
"""

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from diagnosis.providers.search import NO_SEARCH_NOTE, WEB_SEARCH_KINDS, WebSearch

PlatformKind = Literal["openai", "demo"]
PLATFORM_KINDS: tuple[str, ...] = ("openai", "demo")


class PlatformConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(min_length=1)
    kind: PlatformKind
    base_url: str | None = None
    model: str = ""
    # Name of the environment variable holding the key; None for platforms without one.
    api_key_env: str | None = None
    display_name: str = ""
    aliases: list[str] = Field(default_factory=list)
    max_concurrency: int = Field(8, ge=1)
    rpm: int | None = Field(None, ge=1)
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(2, ge=0)
    failure_threshold: int = Field(5, ge=1)
    reset_timeout_s: float = Field(30.0, gt=0)
    demo_latency_ms: int = Field(300, ge=0)
    demo_jitter_ms: int = Field(150, ge=0)
    # Web-grounded calls (providers/search.py): off by default; `web_search` names the vendor's
    # mechanism (the presets set it), `search_model` the model searching needs (OpenAI's).
    search: bool = False
    web_search: WebSearch | None = None
    search_model: str = ""

    @model_validator(mode="before")
    @classmethod
    def _display_name_defaults_to_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("display_name") and data.get("id"):
            data = {**data, "display_name": data["id"]}
        return data

    @model_validator(mode="after")
    def _check_kind_fields(self) -> "PlatformConfig":
        if self.kind == "openai":
            if not self.base_url:
                raise ValueError("base_url is required for kind 'openai'")
            if not self.model:
                raise ValueError("model is required for kind 'openai'")
            if self.search and self.web_search is None:
                raise ValueError(
                    "search needs a web_search mechanism for this platform ("
                    + ", ".join(WEB_SEARCH_KINDS) + "); " + NO_SEARCH_NOTE
                )
        return self

    @property
    def search_supported(self) -> bool:
        return self.kind == "demo" or self.web_search is not None

    def search_dict(self) -> dict[str, Any]:
        """Whether calls are web-grounded, and how (or why the platform cannot be)."""
        mechanism = "demo" if self.kind == "demo" else self.web_search
        return {
            "enabled": self.search,
            "supported": self.search_supported,
            "mechanism": mechanism,
            "note": None if self.search_supported else NO_SEARCH_NOTE,
        }

    @property
    def needs_key(self) -> bool:
        return self.kind == "openai" and bool(self.api_key_env)

    @property
    def configured(self) -> bool:
        """True when the platform can be called: demo, keyless (ollama) or its key is set."""
        return not self.needs_key or self.api_key() is not None

    def api_key(self) -> str | None:
        """The key, read from the environment now; None when unset, empty or not needed."""
        if not self.needs_key or self.api_key_env is None:
            return None
        value = os.environ.get(self.api_key_env, "").strip()
        return value or None

    def unconfigured_reason(self) -> str | None:
        if self.configured:
            return None
        return f"set {self.api_key_env}"

    def public_dict(self) -> dict[str, Any]:
        """What the API may show about the platform: never the key, only its variable's name."""
        data: dict[str, Any] = {
            "id": self.id,
            "display_name": self.display_name,
            "aliases": list(self.aliases),
            "model": self.model,
            "kind": self.kind,
            "configured": self.configured,
            "limits": {
                "max_concurrency": self.max_concurrency,
                "rpm": self.rpm,
                "timeout_s": self.timeout_s,
                "max_retries": self.max_retries,
                "failure_threshold": self.failure_threshold,
                "reset_timeout_s": self.reset_timeout_s,
            },
            "search": self.search_dict(),
        }
        reason = self.unconfigured_reason()
        if reason is not None:
            data["reason"] = reason
        return data
