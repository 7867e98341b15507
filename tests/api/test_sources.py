"""Sources a marketer can act on, through the API (SPEC 8): `domains` for the brand and each
competitor make cited pages `own` / `competitor`, kept with the execution and its retries."""

from tests.api.flows import all_results, start, wait_terminal
from tests.fake_openai import ok

ANSWER = (
    "推荐以下几款：\n\n"
    "1. **蔚来**：服务好，详见 https://www.nio.com/es8\n"
    "2. **理想**：空间大，参考 https://www.lixiang.com/l9\n\n"
    "参考：https://zhuanlan.zhihu.com/p/42 、https://item.jd.com/100.html"
)


async def test_brand_and_competitor_domains_make_own_and_competitor_sources(
    api_client, fake_openai
):
    fake_openai.default("fake-model", ok(ANSWER))
    async with api_client(fake_base_url=fake_openai.base_url) as (client, _app):
        # given the brand's and a competitor's sites
        created = await start(
            client,
            domains=["WWW.nio.com"],
            competitors=[{"name": "理想", "domains": ["lixiang.com"]}, "小鹏"],
            questions=["推荐新能源车"],
            platforms=["fake"],
        )
        await wait_terminal(client, created["execution_id"])
        [row] = await all_results(client, created["execution_id"])
        # then each source says whose it is or what kind of site it is
        kinds = {s["registrable_domain"]: s["kind"] for s in row["analysis"]["sources"]}
        assert kinds == {
            "nio.com": "own", "lixiang.com": "competitor",
            "zhihu.com": "ugc", "jd.com": "ecommerce",
        }
        assert {s["cited_by"] for s in row["analysis"]["sources"]} == {"text"}
        # and a retry keeps the domains (nothing to re-run: the copied analysis is unchanged)
        again = await client.post(f"/api/diagnoses/{created['execution_id']}/retry")
        assert again.status_code == 202, again.text
        await wait_terminal(client, again.json()["execution_id"])
        [copied] = await all_results(client, again.json()["execution_id"])
        assert copied["analysis"]["sources"] == row["analysis"]["sources"]


async def test_invalid_domains_are_422_naming_the_field(api_client):
    async with api_client() as (client, _app):
        for body in (
            {"domains": ["https://nio.com/"]},
            {"domains": ["nio"]},
            {"domains": ["a" * 64 + ".com"]},
            {"domains": [f"d{i}.com" for i in range(21)]},
            {"competitors": [{"name": "理想", "domains": ["li xiang.com"]}]},
        ):
            response = await client.post(
                "/api/diagnoses", json={"brand": "蔚来", "platforms": ["demo"], **body}
            )
            assert response.status_code == 422, (body, response.text)
            assert any("domains" in e["field"] for e in response.json()["errors"]), body


DISCOVERY_ANSWER = (
    "推荐以下几款：\n\n1. **蔚来**：服务好。\n2. **比亚迪**：销量高。\n3. **理想**：空间大。\n\n"
    "### 注意事项\n- **预算**：先定预算。"
)


def _about(prompt: str) -> str:
    # a templated question about a brand gets an answer naming it; open ones the list
    return f"{prompt.removesuffix('怎么样？')}还不错。" if prompt.endswith("怎么样？") else (
        DISCOVERY_ANSWER
    )


async def test_a_discovered_brand_can_be_added_by_a_retry_that_asks_its_questions(
    api_client, fake_openai
):
    fake_openai.default("fake-model", ok(_about))
    async with api_client(fake_base_url=fake_openai.base_url) as (client, _app):
        # given a run whose answers list a brand the request did not
        created = await start(
            client, competitors=["理想"], questions=["推荐新能源车", "{brand}怎么样？"],
            platforms=["fake"],
        )
        eid = created["execution_id"]
        await wait_terminal(client, eid)
        report = (await client.get(f"/api/diagnoses/{eid}/report")).json()
        assert [d["name"] for d in report["discovered_brands"]] == ["比亚迪"]
        assert report["discovered_brands"][0]["avg_rank"] == 2.0
        calls = len(fake_openai.calls)
        # when retried with it added (and a name already there, which is skipped)
        again = await client.post(
            f"/api/diagnoses/{eid}/retry",
            json={"add_competitors": [{"name": "比亚迪", "domains": ["byd.com"]}, "理想"]},
        )
        assert again.status_code == 202, again.text
        # then only the new competitor's templated question is asked
        assert again.json()["total_tasks"] == 4
        await wait_terminal(client, again.json()["execution_id"])
        new_calls = [c.prompt for c in fake_openai.calls[calls:]]
        assert new_calls == ["比亚迪怎么样？"]
        # and the copied open answer is read again: 比亚迪 is now a tracked competitor
        new_report = (
            await client.get(f"/api/diagnoses/{again.json()['execution_id']}/report")
        ).json()
        byd = next(b for b in new_report["brands"] if b["name"] == "比亚迪")
        assert byd["mention_rate"] == 1.0 and byd["avg_rank"] == 2.0
        assert new_report["discovered_brands"] == []
        assert new_report["competitors"] == ["理想", "比亚迪"]


async def test_retry_refuses_an_invalid_add_competitors_body(api_client):
    async with api_client() as (client, _app):
        created = await start(client, questions=["a"])
        await wait_terminal(client, created["execution_id"])
        for body in ({"add_competitors": [""]}, {"add_competitors": "x"}, {"other": 1}):
            response = await client.post(
                f"/api/diagnoses/{created['execution_id']}/retry", json=body
            )
            assert response.status_code == 422, (body, response.text)


async def test_a_web_grounded_platform_keeps_the_api_citations_with_the_answer(
    api_client, fake_openai, tmp_path
):
    # given a platform with search = true (GLM's mechanism) whose API cites two pages
    platforms = tmp_path / "search.toml"
    platforms.write_text(
        f'[platforms.glm]\nkind = "openai"\nbase_url = "{fake_openai.base_url}"\n'
        'model = "glm-fake"\nsearch = true\nweb_search = "zhipu"\n'
    )
    fake_openai.default("glm-fake", ok(
        "推荐：\n\n1. **理想**：空间大 https://zhuanlan.zhihu.com/p/42\n2. **小鹏**：智驾好",
        extra={"web_search": [
            {"title": "知乎", "link": "https://zhuanlan.zhihu.com/p/42"},
            {"title": "京东", "link": "https://item.jd.com/100.html"},
        ]},
    ))
    async with api_client(platforms_file=platforms) as (client, _app):
        listed = {p["id"]: p for p in (await client.get("/api/platforms")).json()}
        assert listed["glm"]["search"] == {
            "enabled": True, "supported": True, "mechanism": "zhipu", "note": None,
        }
        created = await start(client, competitors=["理想", "小鹏"], questions=["推荐新能源车"],
                              platforms=["glm"])
        await wait_terminal(client, created["execution_id"])
        # then the request asked for the search, and the sources say who cited them
        assert fake_openai.calls_for("glm-fake")[0].payload["tools"][0]["type"] == "web_search"
        [row] = await all_results(client, created["execution_id"])
        assert [(s["url"], s["cited_by"]) for s in row["analysis"]["sources"]] == [
            ("https://zhuanlan.zhihu.com/p/42", "api"), ("https://item.jd.com/100.html", "api"),
        ]
        report = (await client.get(f"/api/diagnoses/{created['execution_id']}/report")).json()
        # and both are citation opportunities: competitors named, 蔚来 absent
        assert [(o["registrable_domain"], o["answers"], o["competitors"])
                for o in report["sources"]["opportunities"]] == [
            ("jd.com", 1, ["理想", "小鹏"]), ("zhihu.com", 1, ["理想", "小鹏"]),
        ]
