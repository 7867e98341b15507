"""GET /api/diagnoses (history) and GET .../report (SPEC 6)."""

import csv
import io
from typing import Any

import pytest

from tests.api.flows import wait_terminal


async def start(client: Any, **fields: Any) -> str:
    payload = {"brand": "蔚来", "competitors": ["理想"], "platforms": ["demo"],
               "questions": ["推荐一款车"], **fields}
    response = await client.post("/api/diagnoses", json=payload)
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


async def test_history_is_newest_first_in_pages_with_the_total(api_client):
    async with api_client() as (client, _app):
        # given 5 executions started one after the other
        ids = [await start(client, brand=f"品牌{i}") for i in range(5)]
        # when read in pages of 2
        pages = [(await client.get("/api/diagnoses", params={"page": p, "limit": 2})).json()
                 for p in (1, 2, 3, 4)]
        # then newest first, every one once, the total on each page
        assert [p["total"] for p in pages] == [5, 5, 5, 5]
        assert [(p["page"], p["limit"]) for p in pages] == [(1, 2), (2, 2), (3, 2), (4, 2)]
        listed = [i["execution_id"] for p in pages for i in p["items"]]
        assert listed == list(reversed(ids))
        assert pages[3]["items"] == []
        first = pages[0]["items"][0]
        assert first["brand"] == "品牌4" and first["competitors"] == ["理想"]
        assert first["platforms"] == ["demo"] and first["total"] == 1
        assert set(first) >= {"status", "stage", "progress", "created_at", "owner", "retry_of"}


async def test_history_filters_by_owner(api_client):
    async with api_client() as (client, _app):
        alice = [await start(client, owner="alice") for _ in range(2)]
        bob = await start(client, owner="bob")
        await start(client)  # no owner
        mine = (await client.get("/api/diagnoses", params={"owner": "alice"})).json()
        assert mine["total"] == 2
        assert [i["execution_id"] for i in mine["items"]] == list(reversed(alice))
        assert all(i["owner"] == "alice" for i in mine["items"])
        theirs = (await client.get("/api/diagnoses", params={"owner": "bob"})).json()
        assert [i["execution_id"] for i in theirs["items"]] == [bob]
        nobody = (await client.get("/api/diagnoses", params={"owner": "carol"})).json()
        assert nobody == {"items": [], "total": 0, "page": 1, "limit": 20}
        assert (await client.get("/api/diagnoses")).json()["total"] == 4


@pytest.mark.parametrize("params", [{"page": 0}, {"limit": 0}, {"limit": 101}, {"page": "x"}])
async def test_bad_history_parameters_are_422(api_client, params):
    async with api_client() as (client, _app):
        response = await client.get("/api/diagnoses", params=params)
        assert response.status_code == 422, response.text
        assert response.json()["detail"].split(":")[0] in params


async def test_the_report_is_409_until_the_execution_ends(api_client):
    async with api_client(demo_latency_ms=2000) as (client, _app):
        eid = await start(client, questions=["a", "b"])
        for fmt in ("json", "md", "csv", "html"):
            response = await client.get(f"/api/diagnoses/{eid}/report", params={"format": fmt})
            assert response.status_code == 409, response.text
            assert response.json()["detail"]


async def test_the_report_comes_in_json_md_csv_and_html(api_client):
    async with api_client() as (client, _app):
        eid = await start(client, questions=["推荐一款车", "{brand}怎么样"], samples=2)
        await wait_terminal(client, eid)
        url = f"/api/diagnoses/{eid}/report"
        # json
        as_json = await client.get(url)
        assert as_json.status_code == 200
        assert as_json.headers["content-type"].startswith("application/json")
        report = as_json.json()
        assert [b["name"] for b in report["brands"]] == ["蔚来", "理想"]
        assert report["brands"][0]["is_own"] is True
        for brand in report["brands"]:
            assert set(brand) >= {"name", "is_own", "mention_rate", "avg_rank", "top1_share",
                                  "share_of_voice", "sentiment_index", "visibility_score"}
        assert (await client.get(url, params={"format": "json"})).json() == report
        # markdown
        md = await client.get(url, params={"format": "md"})
        assert md.status_code == 200
        assert md.headers["content-type"].startswith("text/markdown")
        assert "utf-8" in md.headers["content-type"]
        assert md.text.lstrip().startswith("#") and "蔚来" in md.text
        # csv: a BOM so spreadsheet apps read the Chinese right; a row per result
        as_csv = await client.get(url, params={"format": "csv"})
        assert as_csv.status_code == 200
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert as_csv.content.startswith(b"\xef\xbb\xbf")
        assert f"diagnosis-{eid}.csv" in as_csv.headers["content-disposition"]
        rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
        assert len(rows) == 1 + 6  # header + (1 plain + 2 brand questions) x 2 samples
        # html
        html = await client.get(url, params={"format": "html"})
        assert html.status_code == 200
        assert html.headers["content-type"].startswith("text/html")
        assert "<html" in html.text.lower() and "蔚来" in html.text


async def test_an_unknown_report_format_is_422(api_client):
    async with api_client() as (client, _app):
        eid = await start(client)
        await wait_terminal(client, eid)
        response = await client.get(f"/api/diagnoses/{eid}/report", params={"format": "pdf"})
        assert response.status_code == 422 and response.json()["detail"].startswith("format")
