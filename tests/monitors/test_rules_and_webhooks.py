"""Alert rules and webhook messages (pure): drops fire only when significant, thresholds and
overtakes on the run where they start to hold, failed runs; each receiver's format and
signature; credentials masked in what responses show."""

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

from diagnosis.monitors.rules import evaluate
from diagnosis.monitors.trend import RunView
from diagnosis.monitors.webhooks import (
    SIGNATURE_HEADER,
    accepted,
    build_request,
    redacted_url,
)
from tests.monitors.test_statistics import _run

PAYLOAD = {"monitor_id": "mon_1", "monitor_name": "watch", "rule": {}, "brand": "A",
           "metric": "mention_rate", "before": 1.0, "after": 0.0, "delta": -1.0,
           "execution_id": "e2", "report_url": "/api/diagnoses/e2/report",
           "fired_at": "2026-12-01T09:00:00+00:00", "message": "A dropped"}


def test_a_drop_rule_fires_only_on_a_significant_drop():
    rule = [{"kind": "metric", "metric": "mention_rate", "drop_points": 20}]
    assert evaluate(rule, _run("1", own=10, rival=5), _run("2", own=0, rival=5))
    # 10 -> 9 of 10 is a 10-point drop, and not significant either
    assert not evaluate(rule, _run("1", own=10, rival=5), _run("2", own=9, rival=5))
    # the same drop with one sample per question is never significant
    assert not evaluate(rule, _run("1", own=10, rival=5, samples=1),
                        _run("2", own=0, rival=5, samples=1))


def test_a_threshold_fires_on_the_run_where_it_starts_to_hold():
    rule = [{"metric": "mention_rate", "below": 0.5}]
    assert evaluate(rule, _run("1", own=10, rival=5), _run("2", own=2, rival=5))
    assert not evaluate(rule, _run("2", own=2, rival=5), _run("3", own=1, rival=5))


def test_a_competitor_overtaking_the_own_share_of_voice_fires_once():
    rule = [{"kind": "overtake"}]
    [firing] = evaluate(rule, _run("1", own=10, rival=5), _run("2", own=3, rival=5))
    assert firing.brand == "B" and firing.metric == "share_of_voice"
    assert not evaluate(rule, _run("2", own=3, rival=5), _run("3", own=2, rival=5))


def test_a_failed_or_partial_run_fires():
    rule = [{"kind": "run_failed"}]
    run = _run("1", own=1, rival=1)
    partial = RunView(run.execution_id, "partial_success", None, None, run.questions,
                      run.platforms, run.samples, run.report)
    assert evaluate(rule, None, partial) and not evaluate(rule, None, run)


def test_generic_body_is_signed_with_hmac_sha256_of_the_exact_body():
    request = build_request("generic", "http://h/x", "k", PAYLOAD, now_s=0)
    expected = "sha256=" + hmac.new(b"k", request.body, hashlib.sha256).hexdigest()
    assert request.headers[SIGNATURE_HEADER] == expected
    assert json.loads(request.body)["delta"] == -1.0


def test_wecom_sends_markdown_without_signing():
    request = build_request("wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K",
                            "unused", PAYLOAD, now_s=0)
    body = json.loads(request.body)
    assert body["msgtype"] == "markdown" and "A dropped" in body["markdown"]["content"]
    assert SIGNATURE_HEADER not in request.headers


def test_dingtalk_signs_timestamp_and_secret_in_the_query():
    request = build_request("dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=T",
                            "SECx", PAYLOAD, now_s=1700000000.5)
    query = parse_qs(urlsplit(request.url).query)
    assert query["access_token"] == ["T"] and query["timestamp"] == ["1700000000500"]
    digest = hmac.new(b"SECx", b"1700000000500\nSECx", hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(digest).decode()]
    assert json.loads(request.body)["msgtype"] == "markdown"


def test_feishu_signs_in_the_body_with_the_timestamp_and_secret_as_key():
    request = build_request("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/abc",
                            "s", PAYLOAD, now_s=1700000000.9)
    body = json.loads(request.body)
    digest = hmac.new(b"1700000000\ns", b"", hashlib.sha256).digest()
    assert body["timestamp"] == "1700000000" and body["sign"] == base64.b64encode(digest).decode()
    assert body["msg_type"] == "interactive"


def test_robots_answer_200_with_an_error_code_which_is_not_a_delivery():
    assert accepted("wecom", 200, b'{"errcode":0,"errmsg":"ok"}')
    assert not accepted("dingtalk", 200, b'{"errcode":310000,"errmsg":"sign not match"}')
    assert not accepted("feishu", 200, b'{"code":19021,"msg":"sign match fail"}')
    assert not accepted("generic", 500, b"")
    # a robot's reply nested past the JSON decoder's depth is no delivery, not a crash
    assert not accepted("wecom", 200, b"[" * 100_000 + b"]" * 100_000)


def test_credentials_in_webhook_urls_are_masked():
    assert "K" not in redacted_url(
        "wecom", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K")
    assert redacted_url("feishu", "https://open.feishu.cn/open-apis/bot/v2/hook/abc").endswith(
        "/hook/***")
    assert "pw" not in redacted_url("generic", "https://user:pw@example.com/x")
