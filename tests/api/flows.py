"""Client-side steps the API tests share: start a diagnosis, wait for its end, read it back."""

import asyncio
import time
from typing import Any

DEFAULT_BODY: dict[str, Any] = {"brand": "蔚来", "competitors": ["理想"], "platforms": ["demo"]}


async def start(client: Any, **fields: Any) -> dict[str, Any]:
    """POST /api/diagnoses (demo by default); asserts the 202 and returns its body."""
    response = await client.post("/api/diagnoses", json={**DEFAULT_BODY, **fields})
    assert response.status_code == 202, response.text
    return dict(response.json())


async def wait_terminal(client: Any, eid: str, timeout_s: float = 20.0) -> dict[str, Any]:
    """Poll the status route (bounded) until it says stop polling; returns that status."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = (await client.get(f"/api/diagnoses/{eid}")).json()
        if view["should_stop_polling"]:
            return dict(view)
        await asyncio.sleep(0.02)
    raise AssertionError(f"{eid} not terminal within {timeout_s}s")


async def all_results(client: Any, eid: str) -> list[dict[str, Any]]:
    page = (await client.get(f"/api/diagnoses/{eid}/results?limit=500")).json()
    assert page["total"] == len(page["items"])
    return list(page["items"])
