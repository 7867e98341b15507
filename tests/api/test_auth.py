"""Bearer tokens and owners (SPEC 9): 401 without a token, 404 for another owner's execution on
every route, the open service without tokens, and tokens never in a log record."""

import asyncio
import logging

import httpx

ALICE_TOKEN = "tok-alice-9f8e7d6c5b4a"
BOB_TOKEN = "tok-bob-1a2b3c4d5e6f"
WRONG_TOKEN = "tok-mallory-0000guess"
TOKENS = f"{ALICE_TOKEN}:alice,{BOB_TOKEN}:bob"
ALICE = {"Authorization": f"Bearer {ALICE_TOKEN}"}
BOB = {"Authorization": f"Bearer {BOB_TOKEN}"}

START = {"brand": "蔚来", "competitors": ["理想"], "questions": ["新能源汽车推荐"],
         "platforms": ["demo"]}
COMPAT_START = {"brand_list": ["蔚来", "理想"], "selectedModels": ["demo"],
                "custom_question": "新能源汽车推荐？", "userOpenid": "bob"}


def execution_routes(eid: str) -> list[tuple[str, str]]:
    """Every route that names one execution."""
    return [
        ("GET", f"/api/diagnoses/{eid}"),
        ("GET", f"/api/diagnoses/{eid}/results"),
        ("GET", f"/api/diagnoses/{eid}/events"),
        ("GET", f"/api/diagnoses/{eid}/report"),
        ("POST", f"/api/diagnoses/{eid}/cancel"),
        ("POST", f"/api/diagnoses/{eid}/retry"),
        ("GET", f"/test/status/{eid}"),
        ("GET", f"/api/stream/progress/{eid}"),
    ]


async def start(client: httpx.AsyncClient, path: str, body: dict, headers: dict) -> str:
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 202), response.text
    return str(response.json()["execution_id"])


def expected_for_owner(path: str) -> int:
    """What the owner gets from an ended execution: a retry, a 409 cancel, else a read."""
    return {"/cancel": 409, "/retry": 202}.get(path[path.rfind("/"):], 200)


async def wait_until_ended(client: httpx.AsyncClient, eid: str, headers: dict) -> dict:
    for _ in range(400):
        status = (await client.get(f"/api/diagnoses/{eid}", headers=headers)).json()
        if status["should_stop_polling"]:
            return status
        await asyncio.sleep(0.02)
    raise AssertionError("the execution did not end")


async def test_every_api_and_test_route_needs_a_valid_bearer_token(api_client):
    async with api_client(api_tokens=TOKENS) as (client, _app):
        eid = await start(client, "/api/diagnoses", START, ALICE)
        routes = [
            ("GET", "/api/diagnoses"), ("POST", "/api/diagnoses"), ("GET", "/api/platforms"),
            ("POST", "/api/auth/stream-token"), ("POST", "/api/perform-brand-test"),
            *execution_routes(eid), *execution_routes("unknown-id"),
        ]
        bad_headers = [
            {}, {"Authorization": f"Bearer {WRONG_TOKEN}"}, {"Authorization": "Bearer"},
            {"Authorization": f"Basic {ALICE_TOKEN}"}, {"Authorization": ALICE_TOKEN},
        ]
        for method, path in routes:
            for headers in bad_headers:
                body = COMPAT_START if path.endswith("perform-brand-test") else START
                response = await client.request(
                    method, path, headers=headers, json=body if method == "POST" else None
                )
                assert response.status_code == 401, (method, path, headers, response.text)
                assert ALICE_TOKEN not in response.text and WRONG_TOKEN not in response.text
        # the compat routes answer in the mini-program's error shape
        response = await client.get(f"/test/status/{eid}")
        assert response.json()["status"] == "error" and "token" in response.json()["error"]
        # nothing was started by a refused request
        history = (await client.get("/api/diagnoses", headers=ALICE)).json()
        assert history["total"] == 1


async def test_health_metrics_docs_and_the_dashboard_stay_open(api_client):
    async with api_client(api_tokens=TOKENS) as (client, _app):
        for path in ("/health", "/metrics", "/docs", "/openapi.json", "/"):
            response = await client.get(path)
            assert response.status_code in (200, 307), (path, response.status_code)


async def test_another_owner_gets_404_on_every_route_of_an_execution(api_client):
    async with api_client(api_tokens=TOKENS) as (client, _app):
        # given one execution of alice's started on each start route, both ended
        main = await start(client, "/api/diagnoses", START, ALICE)
        compat = await start(client, "/api/perform-brand-test", COMPAT_START, ALICE)
        for eid in (main, compat):
            assert (await wait_until_ended(client, eid, ALICE))["status"] == "completed"
            # when bob asks for it on any route, then it does not exist for him
            for method, path in execution_routes(eid):
                response = await client.request(method, path, headers=BOB)
                assert response.status_code == 404, (method, path, response.text)
                assert "alice" not in response.text
            # and alice still reads it (cancel of an ended one is her 409, not a 404)
            for method, path in execution_routes(eid):
                response = await client.request(method, path, headers=ALICE)
                assert response.status_code == expected_for_owner(path), (method, path)
        # bob's history lists only his own, whatever owner he asks for
        for params in ({}, {"owner": "alice"}):
            history = (await client.get("/api/diagnoses", headers=BOB, params=params)).json()
            assert history == {"items": [], "total": 0, "page": 1, "limit": 20}
        alice_history = (await client.get("/api/diagnoses", headers=ALICE)).json()
        assert {item["owner"] for item in alice_history["items"]} == {"alice"}
        # the token's owner won over the mini-program's userOpenid="bob"
        assert compat in {i["execution_id"] for i in alice_history["items"]}


async def test_a_stream_token_reads_only_its_owners_events(api_client):
    async with api_client(api_tokens=TOKENS) as (client, _app):
        eid = await start(client, "/api/diagnoses", START, ALICE)
        await wait_until_ended(client, eid, ALICE)
        bob_stream = (await client.post("/api/auth/stream-token", headers=BOB)).json()
        bob_stream = bob_stream["access_token"]
        for path in (f"/api/diagnoses/{eid}/events", f"/api/stream/progress/{eid}"):
            response = await client.get(path, params={"access_token": bob_stream})
            assert response.status_code == 404
            response = await client.get(path, params={"access_token": "forged.token"})
            assert response.status_code == 401


async def test_without_tokens_the_service_is_open(api_client):
    async with api_client() as (client, _app):
        created = await client.post("/api/diagnoses", json={**START, "owner": "carol"})
        assert created.status_code == 202
        eid = created.json()["execution_id"]
        # no header needed, and a stray one is ignored
        for headers in ({}, {"Authorization": "Bearer anything"}):
            assert (await client.get(f"/api/diagnoses/{eid}", headers=headers)).status_code == 200
            assert (await client.get(f"/test/status/{eid}", headers=headers)).status_code == 200
        token = (await client.post("/api/auth/stream-token")).json()
        assert token == {"access_token": None, "expires_in": 0, "auth": "open"}


async def test_tokens_never_appear_in_any_log_record(api_client, caplog):
    caplog.set_level(logging.DEBUG)
    async with api_client(api_tokens=TOKENS) as (client, _app):
        # given a whole flow on both start routes, with every read
        eid = await start(client, "/api/diagnoses", START, ALICE)
        cid = await start(client, "/api/perform-brand-test", COMPAT_START, BOB)
        await wait_until_ended(client, eid, ALICE)
        await wait_until_ended(client, cid, BOB)
        for method, path in execution_routes(eid):
            await client.request(method, path, headers=ALICE)
        await client.get(f"/test/status/{cid}", headers=BOB)
        await client.get(f"/api/stream/progress/{cid}", headers=BOB)
        stream = await client.post("/api/auth/stream-token", headers=ALICE)
        stream_token = stream.json()["access_token"]
        # and failed authentications
        await client.get("/api/diagnoses", headers={"Authorization": f"Bearer {WRONG_TOKEN}"})
        await client.post("/api/perform-brand-test", json=COMPAT_START,
                          headers={"Authorization": f"Bearer {WRONG_TOKEN}"})
        await client.get(f"/api/diagnoses/{eid}", headers=BOB)
    # then the service logged the flow, and no record carries a token
    assert any("execution created" in r.getMessage() for r in caplog.records)
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    formatter = logging.Formatter("%(name)s %(message)s %(args)s")
    for record in caplog.records:
        text = formatter.format(record) + repr(record.__dict__)
        for secret in (ALICE_TOKEN, BOB_TOKEN, WRONG_TOKEN, stream_token):
            assert secret not in text, (record.name, record.getMessage())
