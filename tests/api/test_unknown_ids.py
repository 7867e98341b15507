"""Every route of one execution answers 404 for an id that does not exist, whatever it looks like
(SPEC 6): never a 500, never another execution's data."""

import pytest

ODD_IDS = [
    "doesNotExist123",
    "' OR 1=1 --",
    "..%2F..%2Fetc%2Fpasswd",
    "../../etc/passwd",
    "%00",
    "a" * 4000,
    "蔚来",
    "1;DROP TABLE execution",
]

ROUTES = [
    ("GET", ""),
    ("GET", "/results"),
    ("GET", "/events"),
    ("POST", "/cancel"),
    ("POST", "/retry"),
    ("GET", "/report"),
    ("GET", "/report?format=csv"),
]


@pytest.mark.parametrize("eid", ODD_IDS)
async def test_an_unknown_id_is_404_on_every_route(api_client, eid):
    async with api_client() as (client, _app):
        # given one real execution, so a match-anything query would find something
        created = await client.post("/api/diagnoses", json={"brand": "蔚来", "platforms": ["demo"]})
        assert created.status_code == 202
        before = (await client.get("/api/diagnoses")).json()["total"]
        for method, suffix in ROUTES:
            # when
            path, _, query = suffix.partition("?")
            url = f"/api/diagnoses/{eid}{path}" + (f"?{query}" if query else "")
            response = await client.request(method, url)
            # then
            assert response.status_code == 404, (method, url, response.text)
            assert response.headers["content-type"].startswith("application/json")
            assert response.json()["detail"]
        assert (await client.get("/api/diagnoses")).json()["total"] == before
