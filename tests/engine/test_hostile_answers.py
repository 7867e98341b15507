"""Whatever a provider sends, the execution ends and every result is stored (issue 14, 1-3):
unencodable text is made storable, long answers are cut and flagged, and a result the database
refuses for good becomes a bad_response result instead of wedging the flush."""

import asyncio

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from diagnosis.constants import ExecutionStatus
from diagnosis.engine import metrics
from diagnosis.persistence.faults import is_transient
from diagnosis.providers.storable import storable_text
from tests.engine.conftest import fake_platform, request
from tests.fake_openai import ok, status


async def finished(engine, record, bound_s: float = 30.0):
    async with asyncio.timeout(bound_s):
        await engine.runner.wait(record.execution_id)
    row = await engine.repository.get_execution(record.execution_id)
    rows = await engine.repository.all_results(record.execution_id)
    return row, rows


def test_storable_text_replaces_lone_surrogates_drops_nul_and_cuts_at_the_cap():
    text, truncated = storable_text("1. **蔚来** \ud83d好\x00评 \udc00", 1000)
    assert (text, truncated) == ("1. **蔚来** \ufffd好评 \ufffd", False)
    text.encode("utf-8")  # storable everywhere
    # a paired surrogate has been joined by the JSON decoder: a real emoji is kept
    assert storable_text("好 😀", 1000) == ("好 😀", False)
    assert storable_text("x" * 1500, 1000) == ("x" * 1000, True)


def test_database_errors_are_classified_transient_or_permanent():
    locked = OperationalError("INSERT", {}, Exception("database is locked"))
    full = OperationalError("INSERT", {}, Exception("database or disk is full"))
    duplicate = IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
    encoding = UnicodeEncodeError("utf-8", "\ud83d", 0, 1, "surrogates not allowed")
    assert is_transient(locked) and is_transient(full) and is_transient(OSError("disk"))
    assert not is_transient(duplicate) and not is_transient(encoding)


async def test_a_lone_surrogate_answer_is_stored_and_the_execution_completes(
    make_engine, fake_openai
):
    # given a platform whose answers carry a lone surrogate and a NUL (valid JSON both)
    fake_openai.default("p", ok("1. **蔚来** \ud83d 很好\x00"))
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        # when a diagnosis runs on it
        record = await engine.create(request(["p"], questions=["q1", "q2", "q3"]))
        row, rows = await finished(engine, record)
    # then it completes with every answer stored, the bad code point replaced
    assert row.status == ExecutionStatus.completed and row.progress == 100
    assert [r.answer for r in rows] == ["1. **蔚来** \ufffd 很好"] * 3
    assert all(r.analysis and r.analysis["mentions"][0]["brand"] == "蔚来" for r in rows)


async def test_an_answer_over_the_cap_is_cut_and_flagged_truncated(make_engine, fake_openai):
    long_answer = "1. **蔚来**：很好。\n" + "蔚来的服务不错。" * 5000  # ~40k characters
    fake_openai.script("p", ok(long_answer), ok("2. 蔚来"))
    async with make_engine(
        [fake_platform("p", fake_openai.base_url, max_concurrency=1)], max_answer_chars=2000
    ) as engine:
        record = await engine.create(request(["p"], questions=["q1", "q2"]))
        row, rows = await finished(engine, record)
    assert row.status == ExecutionStatus.completed
    by_truncation = sorted((r.truncated, len(r.answer)) for r in rows)
    assert by_truncation == [(False, len("2. 蔚来")), (True, 2000)]


async def test_a_result_the_database_refuses_for_good_becomes_bad_response(
    make_engine, fake_openai
):
    # given a database that permanently refuses any write holding one particular answer
    fake_openai.default("p", ok(lambda prompt: f"1. 蔚来 {prompt}"))
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        repo = engine.repository
        real_progress, real_results = repo.write_progress, repo.write_results
        refused = {"progress": 0, "results": 0}

        def poisoned(results) -> bool:
            return any(r.answer and "poison" in r.answer for r in results)

        async def write_progress(snapshot, results):
            if poisoned(results):
                refused["progress"] += 1
                raise IntegrityError("UPDATE", {}, Exception("CHECK constraint failed"))
            return await real_progress(snapshot, results)

        async def write_results(execution_id, results):
            if poisoned(results):
                refused["results"] += 1
                raise IntegrityError("UPDATE", {}, Exception("CHECK constraint failed"))
            return await real_results(execution_id, results)

        repo.write_progress, repo.write_results = write_progress, write_results
        failures_before = metrics.FLUSH_FAILURES._value.get()
        # when a diagnosis gets that answer for one of its 6 tasks
        questions = ["q1", "q2", "poison", "q4", "q5", "q6"]
        record = await engine.create(request(["p"], questions=questions))
        row, rows = await finished(engine, record)
        failures = metrics.FLUSH_FAILURES._value.get() - failures_before

    # then the execution ends, the 5 others stored ok, the refused one as bad_response
    assert row.status == ExecutionStatus.partial_success and row.progress == 100
    assert (row.completed, row.failed) == (5, 1)
    bad = [r for r in rows if r.status != "ok"]
    assert [(r.question, r.status, r.error_kind) for r in bad] == [
        ("poison", "error", "bad_response")
    ]
    assert bad[0].answer is None and "could not be stored" in (bad[0].error or "")
    assert all(r.answer for r in rows if r.status == "ok")
    # and the refused write was never retried as it was: one refusal of the batch, one alone
    assert refused["results"] == 1 and refused["progress"] == 1 and failures == 1


async def test_a_transient_write_failure_is_retried_until_it_succeeds(make_engine, fake_openai):
    fake_openai.default("p", ok(latency_s=0.01))
    async with make_engine([fake_platform("p", fake_openai.base_url)]) as engine:
        real_write = engine.repository.write_progress
        left = {"n": 3}

        async def locked_then_free(snapshot, results):
            if results and left["n"] > 0:
                left["n"] -= 1
                raise OperationalError("UPDATE", {}, Exception("database is locked"))
            return await real_write(snapshot, results)

        engine.repository.write_progress = locked_then_free
        record = await engine.create(request(["p"], questions=[f"q{i}" for i in range(8)]))
        row, rows = await finished(engine, record)
    assert left["n"] == 0
    assert row.status == ExecutionStatus.completed
    assert [r.status for r in rows] == ["ok"] * 8


def test_postgres_errors_are_classified_by_sqlstate():
    class PgError(Exception):
        def __init__(self, sqlstate: str) -> None:
            super().__init__("x")
            self.sqlstate = sqlstate

    def wrapped(code: str) -> Exception:
        return DBAPIError("UPDATE", {}, PgError(code))

    for code in ("57014", "40P01", "40001", "55P03", "08006", "53100", "57P01"):
        assert is_transient(wrapped(code)), code
    for code in ("22021", "23505", "22P05", "42703"):
        assert not is_transient(wrapped(code)), code


async def test_a_body_nested_past_the_json_decoders_depth_fails_only_its_own_task(
    make_engine, fake_openai
):
    # given a platform whose first answer is 200 kB of nested brackets (the standard library's
    # decoder raises RecursionError on it), the others ordinary answers
    fake_openai.script("p", status(200, body="[" * 100_000 + "]" * 100_000))
    fake_openai.default("p", ok("1. **蔚来**：很好。"))
    async with make_engine([fake_platform("p", fake_openai.base_url, max_concurrency=1)]) as engine:
        record = await engine.create(request(["p"], questions=["q1", "q2", "q3"]))
        row, rows = await finished(engine, record)
    # then that task is a bad_response result and the rest of the fan-out goes on
    assert row.status == ExecutionStatus.partial_success
    assert sorted((r.status, r.error_kind) for r in rows) == [
        ("error", "bad_response"), ("ok", None), ("ok", None),
    ]
