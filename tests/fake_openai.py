"""A fake OpenAI-compatible server: real HTTP on loopback, scripted per model, for tests/benches.

Runs uvicorn in a background thread with its own event loop, so a busy test loop (or another
process) can call it. Records calls but never a key: only whether an Authorization header came.

    with FakeOpenAI() as fake:
        fake.script("m", status(429, retry_after="2"), ok("1. **蔚来**：不错"))
        fake.default(None, ok(latency_s=0.05))
        ... call fake.base_url ...

Run `python -m tests.fake_openai --port P --latency-ms L` to serve ok answers until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

DEFAULT_ANSWER = (
    "综合来看，可以参考以下几个品牌：\n\n"
    "1. **蔚来**：换电体系完善，服务口碑很好。\n"
    "2. **理想**：空间大，适合家庭用户。\n"
    "3. **小鹏**：智能驾驶领先，但售后口碑一般。\n\n"
    "参考：https://www.dongchedi.com/article/123456"
)

_ALL_MODELS = "\x00all models"
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Ok:
    text: str | Callable[[str], str] | None = None
    latency_s: float = 0.0
    usage: bool = True
    # Merged into the body's top level (GLM's `web_search`, DashScope's `search_info`) and into
    # choices[0].message (OpenAI's `annotations`): web-grounded answers' citations.
    extra: dict[str, Any] | None = None
    message: dict[str, Any] | None = None


@dataclass(frozen=True)
class ToolCall:
    """A 200 asking the client to run a tool (finish_reason "tool_calls"), as Kimi's
    `$web_search` does before it answers."""

    name: str
    arguments: str
    call_id: str = "call-fake-1"


@dataclass(frozen=True)
class Status:
    code: int
    retry_after: str | None = None
    body: str | None = None
    latency_s: float = 0.0


@dataclass(frozen=True)
class Hang:
    seconds: float = 3600.0


@dataclass(frozen=True)
class Malformed:
    """A 200 that is not a usable answer: an HTML page, or JSON without choices."""

    non_json: bool


Behaviour = Ok | Status | Hang | Malformed | ToolCall


def ok(
    text: str | Callable[[str], str] | None = None, *, latency_s: float = 0.0, usage: bool = True,
    extra: dict[str, Any] | None = None, message: dict[str, Any] | None = None,
) -> Ok:
    """200 with `text` (or text(prompt); default DEFAULT_ANSWER) after `latency_s`; `extra`
    and `message` add fields to the body and to its message."""
    return Ok(text=text, latency_s=latency_s, usage=usage, extra=extra, message=message)


def tool_call(name: str, arguments: str, call_id: str = "call-fake-1") -> ToolCall:
    return ToolCall(name, arguments, call_id)


def status(
    code: int,
    retry_after: str | float | None = None,
    body: str | None = None,
    latency_s: float = 0.0,
) -> Status:
    """An HTTP status with an OpenAI-style error body (or `body`), optional Retry-After."""
    return Status(code, None if retry_after is None else str(retry_after), body, latency_s)


def hang(seconds: float = 3600.0) -> Hang:
    """No answer for `seconds` (then a default ok); gives up at once when the client leaves."""
    return Hang(seconds)


def non_json() -> Malformed:
    return Malformed(non_json=True)


def no_choices() -> Malformed:
    return Malformed(non_json=False)


@dataclass(frozen=True)
class CallRecord:
    model: str | None
    prompt: str | None
    received_at: float  # time.monotonic()
    wall: float  # time.time()
    had_auth: bool
    payload: dict[str, Any] | None = None  # the request body as received (it holds no key)


class FakeOpenAI:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, record_calls: bool = True):
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._record_calls = record_calls
        self._queues: dict[str | None, deque[Behaviour]] = {}
        self._defaults: dict[str | None, Behaviour] = {}
        self._calls: list[CallRecord] = []
        # Counted per model and under _ALL_MODELS for every call.
        self._in_flight: dict[str | None, int] = {}
        self._peak: dict[str | None, int] = {}
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        # Listening from here on: a client that connects before uvicorn has started (the
        # command-line mode prints its URL first) waits in the backlog instead of being refused.
        self._socket.listen(2048)
        self.host, self.port = self._socket.getsockname()[:2]
        self.base_url = f"http://{self.host}:{self.port}/v1"
        config = uvicorn.Config(
            self._app, host=host, log_level="warning", access_log=False, lifespan="off"
        )
        # Set after construction to keep the call short; uvicorn reads them in run().
        config.interface, config.proxy_headers = "asgi3", False
        config.timeout_graceful_shutdown, config.backlog = 2, 2048
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 10.0) -> FakeOpenAI:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake OpenAI server did not start")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._socket.close()

    def serve_forever(self) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM (the command-line mode)."""
        self._server.run(sockets=[self._socket])

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def script(self, model: str | None, *behaviours: Behaviour) -> None:
        """Queue behaviours for `model` (None: any model), consumed one per call, in order."""
        with self._lock:
            self._queues.setdefault(model, deque()).extend(behaviours)

    def default(self, model: str | None, behaviour: Behaviour) -> None:
        """What `model` (None: any model) gets once its queue is empty."""
        with self._lock:
            self._defaults[model] = behaviour

    def reset(self) -> None:
        with self._lock:
            self._queues.clear()
            self._defaults.clear()
            self._calls.clear()
            self._peak = dict(self._in_flight)

    def _next_behaviour(self, model: str | None) -> Behaviour:
        with self._lock:
            for key in (model, None):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
            for key in (model, None):
                if key in self._defaults:
                    return self._defaults[key]
        return Ok()

    @property
    def calls(self) -> list[CallRecord]:
        with self._lock:
            return list(self._calls)

    def calls_for(self, model: str) -> list[CallRecord]:
        return [call for call in self.calls if call.model == model]

    def in_flight(self, model: str | None = None) -> int:
        with self._lock:
            return self._in_flight.get(_ALL_MODELS if model is None else model, 0)

    def peak_concurrency(self, model: str | None = None) -> int:
        """Most calls in flight at once, for `model` or (None) over all models."""
        with self._lock:
            return self._peak.get(_ALL_MODELS if model is None else model, 0)

    def wait_for_calls(self, n: int, timeout: float = 10.0) -> list[CallRecord]:
        """Block until `n` calls were received (for sync code; async tests: await the twin)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._calls) >= n, timeout):
                raise TimeoutError(f"{len(self._calls)} calls after {timeout}s, wanted {n}")
            return list(self._calls)

    # `timeout` mirrors the sync twin (ASYNC109): a bound is the point of these helpers.
    async def async_wait_for_calls(self, n: int, timeout: float = 10.0) -> list[CallRecord]:  # noqa: ASYNC109
        """Await `n` received calls without blocking the loop."""
        await self.async_wait_until(lambda: len(self.calls) >= n, timeout, what=f"{n} calls")
        return self.calls

    async def async_wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        what: str = "condition",
    ) -> None:
        """Poll `predicate` (about this server's state) until true; TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not reached within {timeout}s")
            await asyncio.sleep(0.005)

    async def _app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST" or not scope["path"].endswith("/chat/completions"):
            await _send(send, 404, {"error": {"message": "not found"}})
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        try:
            payload = json.loads(b"".join(chunks))
            model = payload.get("model")
            messages = payload["messages"]
            # the user's question, also in a tool round trip's follow-up (tool message last)
            prompt = next(
                (m["content"] for m in reversed(messages) if m.get("role") == "user"),
                messages[-1]["content"],
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            await _send(send, 400, {"error": {"message": "invalid request body"}})
            return
        had_auth = any(name == b"authorization" for name, _ in scope["headers"])
        self._enter(CallRecord(model, prompt, time.monotonic(), time.time(), had_auth, payload))
        try:
            await self._respond(self._next_behaviour(model), model, prompt, receive, send)
        finally:
            self._leave(model)

    def _enter(self, record: CallRecord) -> None:
        with self._lock:
            if self._record_calls:
                self._calls.append(record)
            for key in (record.model, _ALL_MODELS):
                count = self._in_flight[key] = self._in_flight.get(key, 0) + 1
                self._peak[key] = max(self._peak.get(key, 0), count)
            self._lock.notify_all()

    def _leave(self, model: str | None) -> None:
        with self._lock:
            for key in (model, _ALL_MODELS):
                self._in_flight[key] -= 1

    async def _respond(
        self, behaviour: Behaviour, model: str | None, prompt: str, receive: Receive, send: Send
    ) -> None:
        match behaviour:
            case Ok(text=text, latency_s=latency_s, usage=usage, extra=extra, message=message):
                if not await self._wait(latency_s, receive):
                    return
                answer = text(prompt) if callable(text) else (text or DEFAULT_ANSWER)
                body = _completion(model, prompt, answer, usage=usage)
                body["choices"][0]["message"].update(message or {})
                await _send(send, 200, {**body, **(extra or {})})
            case ToolCall(name=name, arguments=arguments, call_id=call_id):
                body = _completion(model, prompt, "", usage=True)
                body["choices"][0]["finish_reason"] = "tool_calls"
                body["choices"][0]["message"] = {
                    "role": "assistant", "content": "",
                    "tool_calls": [{"id": call_id, "type": "builtin_function",
                                    "function": {"name": name, "arguments": arguments}}],
                }
                await _send(send, 200, body)
            case Status(code=code, retry_after=retry_after, body=body, latency_s=latency_s):
                if not await self._wait(latency_s, receive):
                    return
                headers = [(b"retry-after", retry_after.encode())] if retry_after else []
                content = body if body is not None else {"error": {"message": f"fake {code}"}}
                await _send(send, code, content, headers=headers)
            case Hang(seconds=seconds):
                if await self._wait(seconds, receive, watch=True):
                    await _send(send, 200, _completion(model, prompt, DEFAULT_ANSWER, usage=True))
            case Malformed(non_json=True):
                await _send(send, 200, "<html><body>502 Bad Gateway</body></html>")
            case Malformed():
                await _send(send, 200, {"id": "chatcmpl-fake", "object": "chat.completion"})

    async def _wait(self, seconds: float, receive: Receive, *, watch: bool = False) -> bool:
        """Sleep `seconds`; False when the server stops or (if watched) the client leaves."""
        if seconds <= 0:
            return True
        if seconds <= 1 and not watch:
            await asyncio.sleep(seconds)
            return not self._stop.is_set()
        deadline = time.monotonic() + seconds
        disconnect = asyncio.ensure_future(receive())
        try:
            while not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return True
                done, _ = await asyncio.wait({disconnect}, timeout=min(0.05, remaining))
                if done:
                    return False
            return False
        finally:
            disconnect.cancel()


def _completion(model: str | None, prompt: str, text: str, *, usage: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
    }
    if usage:
        prompt_tokens, completion_tokens = max(1, len(prompt) // 2), max(1, len(text) // 2)
        body["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
    return body


async def _send(
    send: Send,
    code: int,
    content: dict[str, Any] | str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    if isinstance(content, str):
        data, content_type = content.encode(), b"text/html; charset=utf-8"
    else:
        try:
            data = json.dumps(content, ensure_ascii=False).encode()
        except UnicodeEncodeError:  # a lone surrogate: valid JSON only as a \uXXXX escape
            data = json.dumps(content).encode()
        content_type = b"application/json"
    all_headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(data)).encode()),
        *(headers or []),
    ]
    await send({"type": "http.response.start", "status": code, "headers": all_headers})
    await send({"type": "http.response.body", "body": data})


@pytest.fixture(scope="session")
def _fake_openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake_openai(_fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session's fake server, with scripts, defaults and records cleared for this test."""
    _fake_openai_server.reset()
    yield _fake_openai_server
    _fake_openai_server.reset()


def main(server_class: type[FakeOpenAI] | None = None, *, name: str = "fake OpenAI") -> None:
    """Serve ok answers with a fixed latency until killed (benchmarks reuse it with their own
    subclass)."""
    parser = argparse.ArgumentParser(description=f"Serve a {name}-compatible API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    fake = (server_class or FakeOpenAI)(host=args.host, port=args.port, record_calls=False)
    fake.default(None, ok(latency_s=args.latency_ms / 1000))
    print(f"{name} listening on {fake.base_url}", flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
