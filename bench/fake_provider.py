"""The fake OpenAI server of tests/fake_openai.py, with what benches need on top: a gate that
holds every call until opened (so subscribers can connect before work starts), and counters.

`python -m bench.fake_provider --port P --latency-ms L`; GET /gate/close, /gate/open, /stats.
Only for loopback benches: it answers every chat completion with the same ok body, the tests'
short default, or for a model whose name starts with `long` a realistic ~3000-character answer.
"""

import asyncio
import json
from dataclasses import replace
from typing import Any

from tests.fake_openai import Behaviour, FakeOpenAI, Ok, Receive, Send
from tests.fake_openai import main as serve_fake

from bench.answers import LONG_ANSWER

LONG_MODEL_PREFIX = "long"


class GatedFakeOpenAI(FakeOpenAI):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._open: asyncio.Event | None = None  # made in the server's loop, on first use
        self.served = 0

    def _next_behaviour(self, model: str | None) -> Behaviour:
        behaviour = super()._next_behaviour(model)
        if isinstance(behaviour, Ok) and behaviour.text is None and (model or "").startswith(
            LONG_MODEL_PREFIX
        ):
            return replace(behaviour, text=LONG_ANSWER)
        return behaviour

    def _gate(self) -> asyncio.Event:
        if self._open is None:
            self._open = asyncio.Event()
            self._open.set()
        return self._open

    async def _app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path in ("/gate/open", "/gate/close", "/stats"):
            gate = self._gate()
            if path == "/gate/open":
                gate.set()
            elif path == "/gate/close":
                gate.clear()
            body = {"open": gate.is_set(), "served": self.served,
                    "peak_concurrency": self.peak_concurrency(), "in_flight": self.in_flight()}
            await _json(send, body)
            return
        await self._gate().wait()
        await super()._app(scope, receive, send)
        self.served += 1


async def _json(send: Send, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def main() -> None:
    serve_fake(GatedFakeOpenAI, name="gated fake OpenAI")


if __name__ == "__main__":
    main()
