"""The API's one error handler: domain errors and validation errors become JSON with `detail`.

Never echoes a request header or a key; a 500 carries no internals.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from diagnosis.engine.errors import DiagnosisError
from diagnosis.persistence.faults import is_transient, reason

log = logging.getLogger("diagnosis.api")

# Seconds a client is asked to wait when the database cannot answer (locked, full, down).
DATABASE_RETRY_AFTER_S = 5


def database_unavailable(request: Request, exc: Exception) -> tuple[str, dict[str, str]] | None:
    """(detail, headers) for a database fault that a client should retry, else None (a bug).

    Recorded in the engine's write health, so /health says the truth at once.
    """
    if not is_transient(exc):
        return None
    engine = getattr(request.app.state, "engine", None)
    if engine is not None:
        engine.write_health.failed(exc)
    log.warning("database unavailable path=%s reason=%s", request.url.path, reason(exc))
    detail = "the database is unavailable (busy, full or unreachable); retry later"
    return detail, {"Retry-After": str(DATABASE_RETRY_AFTER_S)}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _error_entry(err: dict[str, Any]) -> dict[str, Any]:
    loc = tuple(err.get("loc", ()))
    if err.get("type") == "json_invalid":
        # FastAPI puts the byte offset where a field name would be: name the body instead.
        position = loc[-1] if loc and isinstance(loc[-1], int) else None
        where = f" at position {position}" if position is not None else ""
        return {"field": "body", "message": f"invalid JSON{where}"}
    return {"field": _field_path(loc), "message": err.get("msg", "")}


def validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, Any]]]:
    errors = [_error_entry(err) for err in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
    return detail, errors


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path. Starlette's 405 names only the methods of
    the first route whose path matched, so GET /api/diagnoses would hide POST /api/diagnoses."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] is not Match.NONE:
            methods.update(route_methods)
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DiagnosisError)
    async def _domain(request: Request, exc: DiagnosisError) -> JSONResponse:
        retry_after = exc.extra.get("retry_after")
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return JSONResponse(
            {"detail": exc.detail, **exc.extra}, status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = validation_detail(exc)
        return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        unavailable = database_unavailable(request, exc)
        if unavailable is None:
            log.exception("database error path=%s", request.url.path)
            return JSONResponse({"detail": "internal error"}, status_code=500)
        detail, headers = unavailable
        return JSONResponse({"detail": detail}, status_code=503, headers=headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error path=%s", request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)
