"""Fuzz of POST /api/diagnoses (SPEC 6): whatever the body, never a 5xx, and a refused body
writes nothing. One real uvicorn for the whole hypothesis run, driven by a sync client."""

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FIELDS = ["brand", "aliases", "competitors", "questions", "platforms", "samples", "deadline_s",
          "owner"]

json_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=15,
)
# At most 100 characters as sent, one that is not a space, no NUL (PostgreSQL cannot store it).
good_names = st.text(min_size=1, max_size=100).filter(
    lambda t: t.strip() != "" and "\x00" not in t)
wrong_names = st.sampled_from(["", " ", "x" * 101, "a\x00b"]) | json_scalars.filter(
    lambda v: not isinstance(v, str))
platform_names = st.sampled_from(["demo", "演示", "Demo (offline)", "offline"])
valid = st.fixed_dictionaries(
    {"brand": good_names, "platforms": st.lists(platform_names, min_size=1, max_size=3)},
    optional={
        "aliases": st.lists(good_names, max_size=3),
        "competitors": st.lists(
            good_names | st.fixed_dictionaries(
                {"name": good_names}, optional={"aliases": st.lists(good_names, max_size=2)}),
            max_size=3),
        "questions": st.lists(good_names, min_size=1, max_size=2),
        "samples": st.integers(min_value=1, max_value=2),
        "deadline_s": st.integers(min_value=1, max_value=3600) | st.none(),
        "owner": good_names | st.none(),
    },
)
# One field made wrong by type, length, range or name; the rest stays valid.
WRONG: dict[str, st.SearchStrategy[Any]] = {
    "brand": wrong_names | json_values,
    "aliases": st.lists(wrong_names, min_size=1, max_size=2) | st.just(["a"] * 21),
    "competitors": st.just([f"c{i}" for i in range(21)]) | st.lists(
        wrong_names | st.fixed_dictionaries({"name": wrong_names}) | json_values, min_size=1,
        max_size=2),
    "questions": st.just(["q"] * 51) | st.just(["x" * 501]) | st.lists(
        st.sampled_from(["", " "]) | json_scalars.filter(lambda v: not isinstance(v, str)),
        min_size=1, max_size=2),
    "platforms": st.just([]) | st.lists(st.sampled_from(["nope", "DeepSeek", "", "豆包"]),
                                        min_size=1, max_size=2),
    "samples": st.sampled_from([0, 11, -1, True, 1.5, "2", None, 2**64]),
    "deadline_s": st.sampled_from([0, 3601, -5, False, 2.5, "60", [60]]),
    "owner": wrong_names.filter(lambda v: v is not None),  # null is a valid owner
    "unexpected": json_values,
}


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    body = dict(draw(valid))
    field = draw(st.sampled_from(sorted(WRONG)))
    body[field] = draw(WRONG[field])
    return body


any_object = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values,
                             max_size=8)
# (what the body is, the body): a valid one must be accepted, a near-valid one refused.
bodies = st.one_of(
    valid.map(lambda b: ("valid", b)),
    near_valid().map(lambda b: ("wrong", b)),
    near_valid().map(lambda b: ("wrong", b)),
    any_object.map(lambda b: ("any", b)),
    json_values.map(lambda b: ("any", b)),
)


def history_total(client: httpx.Client) -> int:
    response = client.get("/api/diagnoses")
    assert response.status_code == 200
    return int(response.json()["total"])


def test_no_body_makes_a_5xx_and_a_refused_body_writes_nothing(live_server, monkeypatch):
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    # max_tasks small so an accepted body is cheap to run in the background
    with live_server(max_tasks=40, demo_latency_ms=0) as (base_url, _app), \
            httpx.Client(base_url=base_url, timeout=10) as client:
        seen: dict[int, int] = {}

        @settings(max_examples=150, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(case=bodies)
        def check(case: tuple[str, Any]) -> None:
            kind, body = case
            before = history_total(client)
            response = client.post("/api/diagnoses", json=body)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            assert response.status_code < 500, (body, response.text)
            answer = response.json()
            if kind == "valid":
                assert response.status_code == 202, (body, response.text)
            elif kind == "wrong":
                assert response.status_code != 202, body
            if response.status_code == 202:
                assert history_total(client) == before + 1
                assert answer["execution_id"] and answer["total_tasks"] >= 1
            else:
                assert response.status_code in (400, 413, 422), response.text
                assert isinstance(answer["detail"], str) and answer["detail"]
                assert history_total(client) == before

        check()
        # the generator reached both sides of the validation
        assert seen.get(202, 0) > 0 and seen.get(422, 0) > 0, seen
        assert client.get("/health").json()["database"] is True


def test_no_raw_bytes_make_a_5xx(live_server):
    with live_server(max_tasks=40, demo_latency_ms=0) as (base_url, _app), \
            httpx.Client(base_url=base_url, timeout=10) as client:

        @settings(max_examples=60, deadline=None)
        @given(raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
               content_type=st.sampled_from(["application/json", "text/plain", ""]))
        def check(raw: bytes, content_type: str) -> None:
            before = history_total(client)
            headers = {"content-type": content_type} if content_type else {}
            response = client.post("/api/diagnoses", content=raw, headers=headers)
            assert response.status_code in (202, 400, 413, 422), (raw, response.text)
            if response.status_code != 202:
                assert history_total(client) == before

        check()
