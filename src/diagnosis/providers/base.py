"""The Provider protocol: one chat call on one platform, an answer or a classified ProviderError.

A provider makes exactly one HTTP attempt per `complete` call: retries, limits and the breaker
are the engine's business, so that the engine can count every attempt.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ChatRequest:
    prompt: str
    # The brands the diagnosis tracks (own brand first). Real platforms ignore them; the
    # offline demo platform uses them to write answers that mention them.
    brands: Sequence[str] = ()
    sample: int = 0


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    usage: dict[str, int] | None = None
    model: str | None = None
    latency_ms: int = 0
    truncated: bool = False  # cut at DIAGNOSIS_MAX_ANSWER_CHARS (see storable.py)
    # Pages the platform's own web search cited ({"url", "title"?}), from the API response
    # (annotations, search results), not from the answer text (providers/search.py).
    citations: tuple[dict[str, str], ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


class Provider(Protocol):
    platform_id: str

    async def complete(self, request: ChatRequest) -> Completion:
        """One attempt. Raises ProviderError (and nothing else but CancelledError)."""
        ...

    async def aclose(self) -> None: ...
