"""Webhook delivery of stored alerts: retried with backoff (tenacity), each try recorded, never
blocking a run (each alert is an owned task), and never lost: an alert stays `pending` until
its last try and is picked up again at the next start; `failed` after the last try.

Never logs a webhook's URL or secret (only alert and monitor ids).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from diagnosis.monitors.webhooks import accepted, build_request
from diagnosis.persistence.monitor_repository import AlertRecord, MonitorRepository
from diagnosis.settings import Settings

log = logging.getLogger("diagnosis.monitors.delivery")
BACKOFF_CAP_S = 60.0
MAX_CONCURRENT_DELIVERIES = 8


class DeliveryFailed(Exception):
    pass


def alert_payload(alert: AlertRecord, *, monitor_name: str, report_url: str) -> dict[str, Any]:
    """The generic webhook's JSON (docs/monitors.md); the robots' markdown is made from it."""
    details = alert.details
    return {
        "alert_id": alert.alert_id,
        "monitor_id": alert.monitor_id,
        "monitor_name": monitor_name,
        "rule": alert.rule,
        "brand": details.get("brand"),
        "metric": details.get("metric"),
        "before": details.get("before"),
        "after": details.get("after"),
        "delta": details.get("delta"),
        "execution_id": alert.execution_id,
        "report_url": report_url,
        "fired_at": alert.fired_at.isoformat(),
        "message": alert.message,
    }


class AlertDispatcher:
    def __init__(
        self, repository: MonitorRepository, settings: Settings, *,
        client: httpx.AsyncClient | None = None, wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._repository = repository
        self._settings = settings
        self._client = client or httpx.AsyncClient(
            timeout=settings.monitor_webhook_timeout_s, follow_redirects=False)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._limit = asyncio.Semaphore(MAX_CONCURRENT_DELIVERIES)
        self._wall_clock = wall_clock
        self._closing = False

    def submit(self, alert_id: str) -> None:
        if self._closing or alert_id in self._tasks:
            return
        task = asyncio.create_task(self._deliver(alert_id), name=f"alert-{alert_id}")
        self._tasks[alert_id] = task
        task.add_done_callback(lambda t: self._reap(alert_id, t))

    async def resume_pending(self) -> int:
        """At start-up: alerts still pending (the server stopped mid-delivery) are sent again."""
        pending = await self._repository.pending_alerts()
        for alert in pending:
            self.submit(alert.alert_id)
        return len(pending)

    async def drain(self) -> None:
        """Wait for every delivery in flight (tests, the CLI)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def aclose(self) -> None:
        self._closing = True
        for task in self._tasks.values():
            task.cancel()  # what did not finish stays pending: resumed at the next start
        await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)
        await self._client.aclose()

    def _reap(self, alert_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.pop(alert_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("alert delivery crashed alert_id=%s", alert_id, exc_info=task.exception())

    async def _deliver(self, alert_id: str) -> None:
        alert = await self._repository.get_alert(alert_id)
        if alert is None or alert.status != "pending":
            return
        monitor = await self._repository.get_monitor(alert.monitor_id)
        webhook = monitor.webhook if monitor else None
        if monitor is None or not webhook:
            await self._repository.record_delivery(alert_id, alert.deliveries, "stored")
            return
        base = self._settings.public_url.rstrip("/")
        payload = alert_payload(alert, monitor_name=monitor.name,
                                report_url=f"{base}/api/diagnoses/{alert.execution_id}/report")
        deliveries = list(alert.deliveries)
        settings = self._settings
        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.monitor_webhook_attempts),
            wait=wait_exponential(multiplier=settings.monitor_webhook_backoff_s,
                                  max=BACKOFF_CAP_S),
            retry=retry_if_exception_type(DeliveryFailed),
        )
        async with self._limit:
            try:
                async for attempt in retrying:
                    with attempt:
                        await self._try(alert_id, webhook, payload, deliveries)
            except RetryError:
                log.warning("alert delivery failed alert_id=%s monitor_id=%s tries=%d",
                            alert_id, alert.monitor_id, len(deliveries))
                await self._repository.record_delivery(alert_id, deliveries, "failed")
                return
        await self._repository.record_delivery(alert_id, deliveries, "delivered")
        log.info("alert delivered alert_id=%s monitor_id=%s", alert_id, alert.monitor_id)

    async def _try(self, alert_id: str, webhook: dict[str, Any], payload: dict[str, Any],
                   deliveries: list[dict[str, Any]]) -> None:
        request = build_request(webhook["kind"], webhook["url"], webhook.get("secret"), payload,
                                now_s=self._wall_clock())
        status: int | None = None
        ok = False
        try:
            response = await self._client.post(request.url, content=request.body,
                                               headers=request.headers)
            status = response.status_code
            ok = accepted(webhook["kind"], status, response.content)
        except httpx.HTTPError:
            ok = False  # the receiver is down or slow; the URL is not logged (it may hold a key)
        deliveries.append({"at": datetime.now(UTC).isoformat(), "http_status": status, "ok": ok})
        # Each try is durable at once: the alert log shows retries while they happen.
        await self._repository.record_delivery(alert_id, deliveries, "pending")
        if not ok:
            raise DeliveryFailed(alert_id)
