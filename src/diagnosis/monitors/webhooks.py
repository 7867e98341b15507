"""Webhook messages and their signing, per receiver kind (docs/monitors.md).

- generic: the alert as JSON, `X-Diagnosis-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.
- wecom: the group robot's markdown message; the key is in the URL, no signing.
  https://developer.work.weixin.qq.com/document/path/91770
- dingtalk: the custom robot's markdown message; with a secret, `timestamp` (ms) and `sign` =
  urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))) as query parameters.
  https://open.dingtalk.com/document/robots/customize-robot-security-settings
  https://open.dingtalk.com/document/robots/custom-robot-access
- feishu: the custom bot's interactive card with a markdown element; with a secret,
  `timestamp` (s) and `sign` = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b"")) in
  the body. https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot

Pure: builds requests and judges responses; never sends (the dispatcher does), never logs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

KINDS = ("generic", "wecom", "dingtalk", "feishu")
SIGNATURE_HEADER = "X-Diagnosis-Signature"
_SECRET_QUERY_KEYS = ("key", "access_token", "token", "sign", "secret")


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def sign_generic(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def markdown(payload: dict[str, Any]) -> tuple[str, str]:
    """(title, markdown text) of an alert, for the robots."""
    title = f"品牌监测告警 / Monitor alert: {payload['monitor_name']}"
    lines = [f"### {title}", "", f"> {payload['message']}", ""]
    for label, key in (("品牌 Brand", "brand"), ("指标 Metric", "metric"),
                       ("之前 Before", "before"), ("之后 After", "after"),
                       ("变化 Delta", "delta")):
        if payload.get(key) is not None:
            lines.append(f"- **{label}**: {payload[key]}")
    lines.append(f"- **时间 Fired at**: {payload['fired_at']}")
    lines.append(f"[报告 Report]({payload['report_url']})")
    return title, "\n".join(lines)


def _json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def build_request(
    kind: str, url: str, secret: str | None, payload: dict[str, Any], *, now_s: float
) -> WebhookRequest:
    """The request for one delivery attempt (robots' signatures carry the attempt's time)."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if kind == "generic":
        body = _json(payload)
        if secret:
            headers[SIGNATURE_HEADER] = sign_generic(secret, body)
        return WebhookRequest(url, body, headers)
    title, text = markdown(payload)
    if kind == "wecom":
        return WebhookRequest(url, _json({"msgtype": "markdown", "markdown": {"content": text}}),
                              headers)
    if kind == "dingtalk":
        if secret:
            ts = int(now_s * 1000)
            url = _with_query(url, {"timestamp": str(ts), "sign": dingtalk_sign(secret, ts)})
        body = _json({"msgtype": "markdown", "markdown": {"title": title, "text": text}})
        return WebhookRequest(url, body, headers)
    if kind == "feishu":
        card: dict[str, Any] = {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": title}},
                "elements": [{"tag": "markdown", "content": text}],
            },
        }
        if secret:
            ts = int(now_s)
            card = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **card}
        return WebhookRequest(url, _json(card), headers)
    raise ValueError(f"unknown webhook kind: {kind}")


def _with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *extra.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def accepted(kind: str, status_code: int, body: bytes) -> bool:
    """2xx, and for the robots their own success code (they answer 200 with an error code)."""
    if not 200 <= status_code < 300:
        return False
    if kind == "generic":
        return True
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):  # RecursionError: nested past the decoder's depth
        return False
    if not isinstance(data, dict):
        return False
    code = data.get("errcode", data.get("code", data.get("StatusCode", 0)))
    return code in (0, None)


def redacted_url(kind: str, url: str) -> str:
    """The URL as responses show it: credentials in the query (WeCom's key, DingTalk's
    access_token) and Feishu's hook token (the last path segment) masked."""
    parts = urlsplit(url)
    query = [(k, "***" if k.lower() in _SECRET_QUERY_KEYS else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    path = parts.path
    if kind == "feishu" and "/hook/" in path:
        path = path.rsplit("/", 1)[0] + "/***"
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc, path=path, query=urlencode(query, safe="*")))
