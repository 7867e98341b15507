"""Dependencies as `Annotated` aliases: the engine, the caller's owner, the settings."""

from typing import Annotated

from fastapi import Depends, Request

from diagnosis.api.auth import Authenticator, StartLimiter
from diagnosis.engine.service import Engine
from diagnosis.settings import Settings


# Dependencies are `async def` on purpose: a plain `def` dependency runs in the threadpool,
# two thread hops per request on the hottest route (the status poll).
async def get_engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_authenticator(request: Request) -> Authenticator:
    return request.app.state.authenticator  # type: ignore[no-any-return]


async def get_owner(request: Request) -> str | None:
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.owner(request)


async def get_rate_limiter(request: Request) -> StartLimiter:
    return request.app.state.rate_limiter  # type: ignore[no-any-return]


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
OwnerDep = Annotated[str | None, Depends(get_owner)]
AuthDep = Annotated[Authenticator, Depends(get_authenticator)]
RateLimitDep = Annotated[StartLimiter, Depends(get_rate_limiter)]


def start_key(request: Request, owner: str | None) -> str:
    """Whom the start-rate limit counts: the token's owner, else the client address.

    An owner only counts when tokens are on: in an open service the owner is whatever the body
    says, and a client could dodge its limit by changing it on every start.
    """
    if owner and request.app.state.authenticator.enabled:
        return f"owner:{owner}"
    client = request.client.host if request.client else "unknown"
    return f"client:{client}"
