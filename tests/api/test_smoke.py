"""The whole path once: start on demo, poll to the end, read results and report."""

import asyncio


async def test_a_demo_diagnosis_runs_to_completed_with_results_and_report(api_client):
    async with api_client() as (client, _app):
        # given a diagnosis on the offline demo platform
        created = await client.post("/api/diagnoses", json={
            "brand": "蔚来", "competitors": ["理想", "小鹏"],
            "questions": ["20万左右的新能源汽车品牌推荐"], "platforms": ["demo"], "samples": 2,
        })
        assert created.status_code == 202, created.text
        eid = created.json()["execution_id"]
        assert created.json()["total_tasks"] == 2
        # when we poll until it says stop
        for _ in range(400):
            status = (await client.get(f"/api/diagnoses/{eid}")).json()
            if status["should_stop_polling"]:
                break
            await asyncio.sleep(0.02)
        # then it completed, with every result and a report
        assert status["status"] == "completed" and status["progress"] == 100
        results = (await client.get(f"/api/diagnoses/{eid}/results")).json()
        assert results["total"] == 2 and all(r["status"] == "ok" for r in results["items"])
        report = (await client.get(f"/api/diagnoses/{eid}/report")).json()
        assert [b["name"] for b in report["brands"]] == ["蔚来", "理想", "小鹏"]
