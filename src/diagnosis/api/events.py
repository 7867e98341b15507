"""SSE (SPEC 6): `progress` (id = seq), `task`, `complete`; the first event is the current
snapshot; a finished execution answers `complete` at once.

The stream subscribes BEFORE it reads the snapshot, so nothing published in between is lost;
the subscription is closed in `finally` whatever ends the stream (a disconnect cancels us).
"""

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from diagnosis.api.deps import AuthDep, EngineDep, OwnerDep, SettingsDep
from diagnosis.api.schemas import ErrorOut
from diagnosis.engine.broker import Batch
from diagnosis.engine.service import Engine

router = APIRouter(tags=["events / 实时进度"])
log = logging.getLogger("diagnosis.api.events")


def _data(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, default=str)


Shape = Callable[[dict[str, Any]], dict[str, Any]]


def _same(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


def _encode_batch(batch: Batch, *, sent_seq: int, shape: Shape, with_tasks: bool) -> bytes:
    events = []
    if batch.seq > sent_seq:
        events.append(ServerSentEvent(_data(shape(batch.progress)), event="progress",
                                      id=str(batch.seq)))
    if with_tasks:
        events.extend(ServerSentEvent(_data(task), event="task") for task in batch.tasks)
    if batch.final:
        events.append(ServerSentEvent(_data(shape(batch.progress)), event="complete",
                                      id=str(batch.seq)))
    return b"".join(event.encode() for event in events)


async def execution_events(
    engine: Engine,
    execution_id: str,
    owner: str | None,
    *,
    dialect: str = "main",
    shape: Shape = _same,
    with_tasks: bool = True,
    recheck_s: float | None = None,
) -> AsyncIterator[ServerSentEvent | bytes]:
    """The event sequence of one execution. `shape` rewrites the status payload and
    `dialect` names that shape, for the per-batch encoding cache (the mini-program's stream).
    After `recheck_s` (default DIAGNOSIS_SSE_RECHECK_S) without an event the DB is read again."""
    if recheck_s is None:
        recheck_s = engine.settings.sse_recheck_s
    with engine.broker.subscribe(execution_id) as sub:
        view = await engine.status(execution_id, owner)
        snapshot = _data(shape(view.model_dump(mode="json")))
        yield ServerSentEvent(snapshot, event="progress", id=str(view.seq))
        if view.is_completed:
            yield ServerSentEvent(snapshot, event="complete", id=str(view.seq))
            return
        sent = view.seq
        while True:
            batch = await sub.next(timeout=recheck_s)
            if batch is None:
                # Nothing for a while: a pub/sub message may have been lost between instances
                # (SPEC 11), so the database, the authority, is asked again.
                view = await engine.status(execution_id, owner)
                if view.seq > sent or view.is_completed:
                    snapshot = _data(shape(view.model_dump(mode="json")))
                    yield ServerSentEvent(snapshot, event="progress", id=str(view.seq))
                    sent = view.seq
                    if view.is_completed:
                        yield ServerSentEvent(snapshot, event="complete", id=str(view.seq))
                        return
                continue
            if batch.seq > sent:
                # Every subscriber that is caught up shares one encoding of the batch.
                blob = batch.encoded.get(dialect)
                if blob is None:
                    blob = _encode_batch(batch, sent_seq=-1, shape=shape, with_tasks=with_tasks)
                    batch.encoded[dialect] = blob
                sent = batch.seq
            else:
                blob = _encode_batch(batch, sent_seq=sent, shape=shape, with_tasks=with_tasks)
            yield blob
            if batch.final:
                log.debug("sse complete execution_id=%s seq=%d", execution_id, batch.seq)
                return


@router.get(
    "/api/diagnoses/{execution_id}/events",
    summary="Live progress (SSE) / 实时进度",
    response_class=EventSourceResponse,
    responses={404: {"model": ErrorOut, "description": "Unknown execution / 诊断不存在"},
               200: {"content": {"text/event-stream": {}},
                     "description": "events: progress (id=seq), task, complete"}},
)
async def stream_events(
    execution_id: str, request: Request, engine: EngineDep, owner: OwnerDep,
    settings: SettingsDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Server-Sent Events; reconnect with Last-Event-ID gets the current snapshot first."""
    await engine.status(execution_id, owner)  # 404 / 401 before the stream opens
    return EventSourceResponse(
        execution_events(engine, execution_id, owner),
        ping=int(settings.sse_keepalive_s) or 15,
        send_timeout=30,
    )


@router.post(
    "/api/auth/stream-token",
    summary="Short-lived token for EventSource / SSE 临时令牌",
    tags=["auth / 认证"],
)
async def stream_token(auth: AuthDep, owner: OwnerDep) -> dict[str, Any]:
    """EventSource cannot send headers: exchange the Bearer token for a signed query token."""
    if owner is None:
        return {"access_token": None, "expires_in": 0, "auth": "open"}
    token, ttl = auth.stream_token(owner)
    return {"access_token": token, "expires_in": ttl, "auth": "token"}
