"""Bearer tokens and owners (SPEC 9), and the start-rate limit per owner or client.

With no tokens configured the service is open (local use). Tokens are compared in constant
time and never logged; an EventSource, which cannot send headers, uses a short-lived signed
`access_token` query parameter obtained with the Bearer token.
"""

import base64
import hashlib
import hmac
import math
import secrets
import time
from collections import deque
from typing import Protocol

from fastapi import Request

from diagnosis.engine.errors import DiagnosisError, RateLimited


class Unauthorized(DiagnosisError):
    status_code = 401


class Authenticator:
    def __init__(self, token_owners: dict[str, str], *, stream_token_ttl_s: int = 300,
                 secret: str | None = None) -> None:
        self._tokens = token_owners
        self._ttl = stream_token_ttl_s
        # DIAGNOSIS_STREAM_TOKEN_SECRET, shared by every instance (SPEC 11) so that any of them
        # accepts a token another issued; unset, a per-process secret (tokens die with it).
        self._secret = secret.encode() if secret else secrets.token_bytes(32)

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def owner(self, request: Request) -> str | None:
        """The caller's owner; None when the service is open. Raises 401 when tokens are on
        and the request carries no valid credential."""
        if not self._tokens:
            return None
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value:
            for token, owner in self._tokens.items():
                if hmac.compare_digest(value.strip().encode(), token.encode()):
                    return owner
        stream = request.query_params.get("access_token")
        if stream:
            stream_owner = self.verify_stream_token(stream)
            if stream_owner is not None:
                return stream_owner
        raise Unauthorized("a valid Bearer token is required")

    def stream_token(self, owner: str) -> tuple[str, int]:
        expires = int(time.time()) + self._ttl
        payload = f"{owner}|{expires}".encode()
        sig = hmac.new(self._secret, payload, hashlib.sha256).digest()
        token = base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + (
            base64.urlsafe_b64encode(sig).decode().rstrip("=")
        )
        return token, self._ttl

    def verify_stream_token(self, token: str) -> str | None:
        try:
            body, _, sig = token.partition(".")
            payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            given = base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
        except (ValueError, TypeError):
            return None
        expected = hmac.new(self._secret, payload, hashlib.sha256).digest()
        if not hmac.compare_digest(given, expected):
            return None
        owner, _, expires = payload.decode(errors="replace").rpartition("|")
        if not expires.isdigit() or int(expires) < time.time():
            return None
        return owner


class StartLimiter(Protocol):
    """What the start routes ask: this process's limiter, or the cluster's shared one."""

    async def hit(self, key: str) -> None: ...


class StartRateLimiter:
    """At most `per_minute` starts in any 60 s window per key (a sliding log: exact, small)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._starts: dict[str, deque[float]] = {}

    async def hit(self, key: str) -> None:
        """The routes' entry (the cluster's limiter, shared through Redis, is async)."""
        self.check(key)

    def check(self, key: str) -> None:
        """Raise 429 with Retry-After when `key` is over its rate; else count this start."""
        if self.per_minute <= 0:
            return
        now = time.monotonic()
        log = self._starts.setdefault(key, deque())
        while log and now - log[0] >= 60.0:
            log.popleft()
        if len(log) >= self.per_minute:
            retry_after = max(1, math.ceil(60.0 - (now - log[0])))
            raise RateLimited(
                f"too many diagnoses started: at most {self.per_minute} per minute",
                retry_after=retry_after,
            )
        log.append(now)
