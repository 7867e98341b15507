"""OpenAI-compatible chat completions: one POST per call over one pooled client per platform.

Translates every transport outcome (httpx's exception tree, see transport.py) into a
ProviderError kind at this boundary. Never retries (the engine does), and never puts a key, a
request header or a whole body in an error message. URL, headers and timeouts are built once
per platform; a call builds only its body.
"""

import json
import math
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from diagnosis.constants import ErrorKind
from diagnosis.providers.base import ChatRequest, Completion
from diagnosis.providers.config import PlatformConfig
from diagnosis.providers.errors import ProviderError
from diagnosis.providers.search import (
    MAX_TOOL_ROUNDS,
    citations,
    kimi_follow_up,
    kimi_tool_calls,
    search_fields,
)
from diagnosis.providers.transport import (
    AiohttpClient,
    HttpClient,
    HttpxTransportClient,
    RawResponse,
    is_connection_error,
)

_SNIPPET_CHARS = 200
_USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")
_BASE_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


class OpenAICompatibleProvider:
    def __init__(
        self, config: PlatformConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        if config.base_url is None:
            raise ValueError(f"platform {config.id!r} has no base_url")
        self.platform_id = config.id
        self.config = config
        self._url = config.base_url.rstrip("/") + "/chat/completions"
        self._client: HttpClient = (
            AiohttpClient(
                self._url, max_connections=config.max_concurrency, timeout_s=config.timeout_s
            )
            if transport is None
            else HttpxTransportClient(self._url, transport=transport, timeout_s=config.timeout_s)
        )
        # The key is read at each call (it may be set after start-up); the headers are rebuilt
        # only when it changed.
        self._headers_key: str | None = None
        self._headers: dict[str, str] = dict(_BASE_HEADERS)
        # Web-grounded calls (providers/search.py): the fields and model, fixed per platform.
        self._search = config.web_search if config.search else None
        self._search_fields = search_fields(self._search) if self._search else {}
        self._model = (
            config.search_model if self._search == "openai" and config.search_model
            else config.model
        )

    def __repr__(self) -> str:
        return f"OpenAICompatibleProvider(platform_id={self.platform_id!r}, url={self._url!r})"

    def _headers_for(self, key: str | None) -> dict[str, str]:
        if key != self._headers_key:
            headers = dict(_BASE_HEADERS)
            if key:
                headers["Authorization"] = f"Bearer {key}"
            self._headers, self._headers_key = headers, key
        return self._headers

    async def complete(self, request: ChatRequest) -> Completion:
        """One attempt; for Kimi's `$web_search` that is the documented round trip (the model
        asks for the search, its arguments go back, then it answers), at most a few rounds."""
        key = self.config.api_key()
        messages: list[dict[str, Any]] = [{"role": "user", "content": request.prompt}]
        started = time.perf_counter()
        data = await self._exchange(messages, key)
        for _ in range(MAX_TOOL_ROUNDS if self._search == "moonshot" else 0):
            calls = kimi_tool_calls(data)
            if not calls:
                break
            messages += kimi_follow_up(data, calls)
            data = await self._exchange(messages, key)
        latency_ms = round((time.perf_counter() - started) * 1000)
        return self._completion(data, latency_ms)

    async def _exchange(self, messages: list[dict[str, Any]], key: str | None) -> Any:
        """One POST of the conversation so far; the decoded JSON body of a 200."""
        body = {"model": self._model, "messages": messages, **self._search_fields}
        # What httpx's `json=` sent: compact, UTF-8, no NaN.
        content = json.dumps(
            body, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
        try:
            response = await self._client.post(content, self._headers_for(key))
        except httpx.TimeoutException as exc:
            if is_connection_error(exc):
                raise self._error(ErrorKind.network, "connection failed") from exc
            raise self._error(ErrorKind.timeout, f"timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            detail = _scrub(str(exc), key)
            message = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
            raise self._error(ErrorKind.network, message) from exc
        if response.status != 200:
            raise self._status_error(response, key)
        try:
            return json.loads(response.body)
        # ValueError: not JSON, not UTF-8, or an integer past Python's 4300-digit limit for
        # reading one; RecursionError: nested past the decoder's depth ("[[[[..." of 200 kB).
        except (ValueError, RecursionError) as exc:
            content_type = response.content_type or "unknown"
            raise self._error(
                ErrorKind.bad_response, f"200 with a non-JSON body ({content_type})", status=200
            ) from exc

    def _completion(self, data: Any, latency_ms: int) -> Completion:
        text = _content(data)
        if text is None:
            raise self._error(
                ErrorKind.bad_response, "200 without choices[0].message.content", status=200
            )
        model = data.get("model")
        return Completion(
            text=text,
            usage=_usage(data.get("usage")),
            model=model if isinstance(model, str) else self._model,
            latency_ms=latency_ms,
            citations=citations(data) if self._search else (),
        )

    def _status_error(self, response: RawResponse, key: str | None) -> ProviderError:
        code = response.status
        snippet = _scrub(response.text()[: _SNIPPET_CHARS * 2], key)[:_SNIPPET_CHARS]
        message = f"HTTP {code}: {snippet}" if snippet else f"HTTP {code}"
        # Retry-After is honoured wherever a retry may follow: 429, 503 (and any 5xx), 408.
        retry_after = parse_retry_after(response.retry_after)
        if code == 429:
            return self._error(
                ErrorKind.rate_limited, message, status=code, retry_after=retry_after
            )
        if code == 408:
            kind = ErrorKind.timeout
        elif code >= 500:
            kind = ErrorKind.server_error
        elif code in (401, 403):
            kind = ErrorKind.auth
        elif code >= 400:
            kind = ErrorKind.bad_request
        else:  # 1xx/3xx/other 2xx: not an answer we can read
            kind = ErrorKind.bad_response
        if kind not in (ErrorKind.timeout, ErrorKind.server_error):
            retry_after = None
        return self._error(kind, message, status=code, retry_after=retry_after)

    def _error(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> ProviderError:
        return ProviderError(
            kind, f"{self.platform_id}: {message}", status_code=status, retry_after_s=retry_after
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _content(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    return content if isinstance(content, str) else None


def _usage(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, dict):
        return None
    usage = {
        name: raw[name]
        for name in _USAGE_FIELDS
        if isinstance(raw.get(name), int) and not isinstance(raw.get(name), bool)
    }
    return usage or None


def _scrub(text: str, key: str | None) -> str:
    """One line of text with the key (should a server echo it) masked."""
    text = " ".join(text.split())
    if key:
        text = text.replace(key, "***")
    return text
