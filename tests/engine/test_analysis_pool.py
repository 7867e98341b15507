"""Where answers are analysed (engine/analysis_pool.py): short ones on the loop, long ones in the
worker processes, in a thread when there are none or the pool broke; the same analysis anywhere."""

import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from bench.answers import long_answer
from bench.procs import descendants, parent_of

from diagnosis.analysis import NATIVE, BrandSpec, analyze_answer
from diagnosis.analysis.domains import domain_kinds
from diagnosis.engine.analysis_pool import INLINE_ANALYSIS_CHARS, AnswerAnalyser
from tests.cluster.waiting import eventually
from tests.engine.conftest import fake_platform, request
from tests.fake_openai import ok

BRANDS = [BrandSpec("蔚来", ("NIO",), is_own=True, domains=("nio.com",)), BrandSpec("理想"),
          BrandSpec("小鹏")]
CITATIONS = [{"url": "https://www.nio.com/es8", "title": "ES8"}]
LONG = long_answer(3000)
SHORT = "1. 蔚来：换电方便，服务很好。\n2. 理想：空间大。"


def _children() -> set[int]:
    """The processes below this one (the fork server, and the workers forked from it)."""
    return descendants(os.getpid())


def _workers(new: set[int]) -> list[int]:
    """Of `new` processes, the pool's workers: the fork server's children, not ours."""
    return [pid for pid in new if parent_of(pid) != os.getpid()]


async def test_a_long_answer_is_analysed_in_a_worker_process_exactly_as_inline() -> None:
    analyser = AnswerAnalyser(processes=1, kinds_file=None)
    before = _children()
    try:
        analysis = await analyser.analyse(LONG, BRANDS, CITATIONS)
        assert analysis == analyze_answer(LONG, BRANDS, citations=CITATIONS, kinds=domain_kinds())
        assert (analyser.in_processes, analyser.in_threads) == (1, 0)
        assert _children() - before  # the pool's processes exist
    finally:
        analyser.close()


async def test_a_short_answer_stays_on_the_loop_and_starts_no_process() -> None:
    analyser = AnswerAnalyser(processes=1, kinds_file=None)
    before = _children()
    try:
        assert len(SHORT) <= INLINE_ANALYSIS_CHARS
        analysis = await analyser.analyse(SHORT, BRANDS)
        assert analysis == analyze_answer(SHORT, BRANDS, kinds=domain_kinds())
        assert (analyser.in_processes, analyser.in_threads) == (0, 0)
        assert _children() - before == set()
    finally:
        analyser.close()


async def test_the_domain_table_file_is_used_in_a_thread_and_in_a_process(tmp_path: Path) -> None:
    kinds_file = tmp_path / "kinds.json"
    kinds_file.write_text('{"editorial": ["carreview.example"]}', encoding="utf-8")
    citations = [{"url": "https://carreview.example/ev"}]
    for processes in (0, 1):
        analyser = AnswerAnalyser(processes=processes, kinds_file=kinds_file)
        try:
            analysis = await analyser.analyse(LONG, BRANDS, citations)
        finally:
            analyser.close()
        # the deployment's domain table is the one used, in a thread as in a process
        assert analysis == analyze_answer(LONG, BRANDS, citations=citations,
                                          kinds=domain_kinds(kinds_file))
        kinds = {s["registrable_domain"]: s["kind"] for s in analysis["sources"]}
        assert kinds["carreview.example"] == "editorial"
        assert (analyser.in_processes, analyser.in_threads) == (processes, 1 - processes)


async def test_a_killed_worker_costs_one_answer_a_thread_and_the_pool_comes_back() -> None:
    analyser = AnswerAnalyser(processes=1, kinds_file=None)
    expected = analyze_answer(LONG, BRANDS, kinds=domain_kinds())
    before = _children()
    try:
        assert await analyser.analyse(LONG, BRANDS) == expected
        # when the worker process is killed (the fork server is its parent and stays)
        workers = _workers(_children() - before)
        assert len(workers) == 1
        os.kill(workers[0], signal.SIGKILL)
        await eventually(lambda: workers[0] not in _children())
        # then every answer is still analysed: one that met the dead worker in a thread, the
        # others in a new worker process
        for _ in range(3):
            assert await analyser.analyse(LONG, BRANDS) == expected
        assert analyser.in_processes + analyser.in_threads == 4 and analyser.in_processes >= 3
        assert _workers(_children() - before) not in ([], workers)
    finally:
        analyser.close()


def _exit_at_once() -> None:
    os._exit(3)  # a worker that cannot start (in the real world: no fork server, no imports)


async def test_processes_that_cannot_start_are_tried_once_then_threads_do_it(caplog) -> None:
    caplog.set_level(logging.INFO, logger="diagnosis.engine.analysis")
    analyser = AnswerAnalyser(processes=1, kinds_file=None, start=_exit_at_once)
    expected = analyze_answer(LONG, BRANDS, kinds=domain_kinds())
    try:
        for _ in range(3):
            assert await analyser.analyse(LONG, BRANDS) == expected
    finally:
        analyser.close()
    assert (analyser.in_processes, analyser.in_threads) == (0, 3)
    started = [r for r in caplog.records if "analysis process started" in r.getMessage()]
    given_up = [r for r in caplog.records if "could not start" in r.getMessage()]
    assert len(started) == 1 and len(given_up) == 1


async def test_an_execution_of_long_answers_stores_the_analysis_made_in_the_processes(
    make_engine, fake_openai,
) -> None:
    fake_openai.default("p", ok(LONG))
    async with make_engine([fake_platform("p", fake_openai.base_url)],
                           analysis_processes=1) as engine:
        record = await engine.create(request(["p"], questions=["q1", "q2", "q3"]))
        await engine.runner.wait(record.execution_id)
        rows = await engine.repository.all_results(record.execution_id)
        brands = [BrandSpec(record.brand, tuple(record.aliases or ()), is_own=True)]
        brands += [BrandSpec(c["name"], tuple(c.get("aliases") or ()))
                   for c in record.competitors or ()]
        expected = analyze_answer(LONG, brands, kinds=domain_kinds())
        assert [r.analysis for r in rows] == [expected] * 3
        assert engine.analyser.in_processes == 3


def test_an_analyser_used_from_a_second_event_loop_starts_its_workers_again() -> None:
    analyser = AnswerAnalyser(processes=1, kinds_file=None)
    expected = analyze_answer(LONG, BRANDS, kinds=domain_kinds())
    try:
        # given workers started in one loop that has since closed (asyncio.run returned)
        assert asyncio.run(analyser.analyse(LONG, BRANDS)) == expected
        # then a second loop gets a worker of its own, not the first loop's socket
        assert asyncio.run(analyser.analyse(LONG, BRANDS)) == expected
        assert (analyser.in_processes, analyser.in_threads) == (2, 0)
    finally:
        analyser.close()


async def test_closing_the_engine_ends_its_analysis_processes(make_engine, fake_openai) -> None:
    fake_openai.default("p", ok(LONG))
    before = _children()
    async with make_engine([fake_platform("p", fake_openai.base_url)],
                           analysis_processes=1) as engine:
        record = await engine.create(request(["p"], questions=["q1"]))
        await engine.runner.wait(record.execution_id)
        assert engine.analyser.in_processes == 1
        workers = _workers(_children() - before)
        assert len(workers) == 1
    # the fork server may stay for the next engine of this process; the worker does not
    await eventually(lambda: not set(workers) & _children())


def test_an_analyser_logs_which_analysis_runs_and_where(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="diagnosis.engine.analysis")
    AnswerAnalyser(processes=2, kinds_file=None).close()
    AnswerAnalyser(processes=0, kinds_file=None).close()
    # the suite runs the Python (tests/conftest.py) unless DIAGNOSIS_NATIVE_ANALYSIS=1 is set
    which = "compiled (mypyc)" if NATIVE else "Python (DIAGNOSIS_NATIVE_ANALYSIS=0)"
    assert [r.getMessage() for r in caplog.records] == [
        f"analysis: {which}; answers over 1000 characters in 2 worker process(es)",
        f"analysis: {which}; answers over 1000 characters in a thread",
    ]


def _distinct(count: int) -> list[tuple[str, list[dict[str, str]]]]:
    """Long answers, each with a source of its own, so one analysis handed back for another
    shows."""
    return [(long_answer(2000 + 300 * i), [{"url": f"https://site{i}.example/review"}])
            for i in range(count)]


async def _warm(analyser: AnswerAnalyser) -> None:
    """The worker started (a full batch through it), so the answers that follow arrive within
    microseconds of each other; the counters back at zero."""
    await asyncio.gather(*(analyser.analyse(LONG, BRANDS) for _ in range(analyser.batch_max)))
    analyser.batches = analyser.sent = analyser.in_processes = 0


async def test_long_answers_that_arrive_together_go_to_the_worker_in_one_batch() -> None:
    # a wait no test sees end: only a full batch is sent
    analyser = AnswerAnalyser(processes=1, kinds_file=None, batch_ms=600_000, batch_max=5)
    answers = _distinct(5)
    try:
        await _warm(analyser)
        analyses = await asyncio.gather(*(analyser.analyse(t, BRANDS, c) for t, c in answers))
        # each answer gets its own analysis, all of them sent in one message
        assert analyses == [analyze_answer(t, BRANDS, citations=c, kinds=domain_kinds())
                            for t, c in answers]
        assert len({str(a) for a in analyses}) == 5
        assert (analyser.batches, analyser.sent, analyser.in_processes) == (1, 5, 5)
    finally:
        analyser.close()


async def test_a_batch_is_sent_full_or_after_its_wait_and_at_once_without_one() -> None:
    answers = _distinct(7)
    expected = [analyze_answer(t, BRANDS, citations=c, kinds=domain_kinds()) for t, c in answers]
    for batch_ms, batches in ((200, 3), (0, 7)):
        # 7 answers, at most 3 a batch: two full ones and the last one after the wait; each on
        # its own with no wait
        analyser = AnswerAnalyser(processes=1, kinds_file=None, batch_ms=batch_ms, batch_max=3)
        try:
            await _warm(analyser)
            analyses = await asyncio.gather(*(analyser.analyse(t, BRANDS, c) for t, c in answers))
            assert analyses == expected
            assert (analyser.batches, analyser.sent) == (batches, 7)
        finally:
            analyser.close()


async def test_an_answer_cancelled_while_its_batch_waits_is_not_sent() -> None:
    analyser = AnswerAnalyser(processes=1, kinds_file=None, batch_ms=600_000, batch_max=3)
    (text_a, cites_a), (text_b, cites_b), (text_c, cites_c) = _distinct(3)
    try:
        await _warm(analyser)
        cancelled = asyncio.create_task(analyser.analyse(text_a, BRANDS, cites_a))
        kept = asyncio.create_task(analyser.analyse(text_b, BRANDS, cites_b))
        await eventually(lambda: analyser._workers[0].filling() and len(
            analyser._workers[0].waiting) == 2)
        cancelled.cancel()
        # the third answer fills the batch: it goes with the second, without the first
        last = await analyser.analyse(text_c, BRANDS, cites_c)
        assert await kept == analyze_answer(text_b, BRANDS, citations=cites_b,
                                            kinds=domain_kinds())
        assert last == analyze_answer(text_c, BRANDS, citations=cites_c, kinds=domain_kinds())
        assert cancelled.cancelled()
        assert (analyser.batches, analyser.sent, analyser.in_processes) == (1, 2, 2)
    finally:
        analyser.close()


async def test_answers_waiting_in_a_batch_when_the_worker_dies_are_analysed_in_threads() -> None:
    analyser = AnswerAnalyser(processes=1, kinds_file=None, batch_ms=600_000, batch_max=10)
    answers = _distinct(2)
    before = _children()
    try:
        await _warm(analyser)
        waiting = [asyncio.create_task(analyser.analyse(t, BRANDS, c)) for t, c in answers]
        await eventually(lambda: len(analyser._workers[0].waiting) == 2)
        workers = _workers(_children() - before)
        assert len(workers) == 1
        os.kill(workers[0], signal.SIGKILL)
        # the batch never sent: both answers still analysed, in threads
        assert await asyncio.gather(*waiting) == [
            analyze_answer(t, BRANDS, citations=c, kinds=domain_kinds()) for t, c in answers]
        assert (analyser.sent, analyser.in_processes, analyser.in_threads) == (0, 0, 2)
    finally:
        analyser.close()


async def test_with_two_processes_answers_that_arrive_together_still_share_one_batch() -> None:
    # a wait that ends within the test: two half batches would be sent after it, not one
    analyser = AnswerAnalyser(processes=2, kinds_file=None, batch_ms=2_000, batch_max=4)
    answers = _distinct(4)
    before = _children()
    try:
        analyses = await asyncio.gather(*(analyser.analyse(t, BRANDS, c) for t, c in answers))
        assert analyses == [analyze_answer(t, BRANDS, citations=c, kinds=domain_kinds())
                            for t, c in answers]
        # one worker took the whole burst; no second one started while its batch filled
        assert (analyser.batches, analyser.sent) == (1, 4)
        assert len(_workers(_children() - before)) == 1
    finally:
        analyser.close()


async def test_with_two_workers_running_a_burst_goes_to_one_of_them_whole() -> None:
    analyser = AnswerAnalyser(processes=2, kinds_file=None, batch_ms=2_000, batch_max=2)
    answers = _distinct(4)
    before = _children()
    try:
        # four answers at most two a batch: the first worker's batch is full and busy, so the
        # second worker starts for the next two
        await asyncio.gather(*(analyser.analyse(t, BRANDS, c) for t, c in answers))
        assert len(_workers(_children() - before)) == 2 and analyser.batches == 2
        # then two answers arriving together, both workers idle, go as one batch, not one each
        analyser.batches = analyser.sent = 0
        analyses = await asyncio.gather(*(analyser.analyse(t, BRANDS, c) for t, c in answers[:2]))
        assert analyses == [analyze_answer(t, BRANDS, citations=c, kinds=domain_kinds())
                            for t, c in answers[:2]]
        assert (analyser.batches, analyser.sent) == (1, 2)
    finally:
        analyser.close()


async def test_a_short_answer_goes_to_a_running_worker_and_never_starts_one() -> None:
    analyser = AnswerAnalyser(processes=1, kinds_file=None, batch_ms=0)
    before = _children()
    try:
        # no worker yet: on the loop, and none starts for it
        assert await analyser.analyse(SHORT, BRANDS) == analyze_answer(
            SHORT, BRANDS, kinds=domain_kinds())
        assert analyser.in_processes == 0 and _children() - before == set()
        # a worker running (a long answer started it): a big execution's short answers go to
        # it, off the loop; a small one's stay on the loop
        await analyser.analyse(LONG, BRANDS)
        assert await analyser.analyse(SHORT, BRANDS, CITATIONS, short_off_loop=True) == (
            analyze_answer(SHORT, BRANDS, citations=CITATIONS, kinds=domain_kinds()))
        assert (analyser.in_processes, analyser.sent, analyser.in_threads) == (2, 2, 0)
        assert await analyser.analyse(SHORT, BRANDS) == analyze_answer(
            SHORT, BRANDS, kinds=domain_kinds())
        assert (analyser.in_processes, analyser.sent) == (2, 2)
    finally:
        analyser.close()


async def test_a_short_answer_whose_worker_dies_is_analysed_on_the_loop() -> None:
    analyser = AnswerAnalyser(processes=1, kinds_file=None, batch_ms=600_000, batch_max=10)
    before = _children()
    try:
        await _warm(analyser)
        waiting = asyncio.create_task(analyser.analyse(SHORT, BRANDS, short_off_loop=True))
        await eventually(lambda: len(analyser._workers[0].waiting) == 1)
        (worker,) = _workers(_children() - before)
        os.kill(worker, signal.SIGKILL)
        assert await waiting == analyze_answer(SHORT, BRANDS, kinds=domain_kinds())
        assert (analyser.in_processes, analyser.in_threads) == (0, 0)  # not in a thread either
    finally:
        analyser.close()


async def test_an_execution_of_prestart_tasks_or_more_starts_a_worker_as_it_starts() -> None:
    for processes, tasks, starts in ((1, 99, False), (1, 100, True), (0, 1000, False)):
        analyser = AnswerAnalyser(processes=processes, kinds_file=None, prestart_tasks=100)
        before = _children()
        try:
            analyser.expect(tasks)
            if starts:
                await eventually(lambda b=before: bool(_workers(_children() - b)))
                await eventually(lambda a=analyser: a._running() is not None)
            else:
                await asyncio.gather(*analyser._prestarting)
                assert analyser._running() is None
                assert _workers(_children() - before) == []
        finally:
            analyser.close()


async def test_an_analyser_closed_while_its_prestart_runs_leaves_no_worker() -> None:
    analyser = AnswerAnalyser(processes=1, kinds_file=None, prestart_tasks=1)
    before = _children()
    started, go_on = asyncio.Event(), asyncio.Event()
    spawn = analyser._spawn

    async def held_spawn() -> Any:  # the worker's start, held until the analyser has closed
        started.set()
        await go_on.wait()
        return await spawn()

    analyser._spawn = held_spawn  # type: ignore[method-assign]
    analyser.expect(1)
    await started.wait()
    analyser.close()
    go_on.set()
    await asyncio.gather(*analyser._prestarting)
    assert analyser._workers == []
    await eventually(lambda: _workers(_children() - before) == [])


async def test_the_last_answer_of_an_execution_sends_the_batches_without_their_wait() -> None:
    analyser = AnswerAnalyser(processes=1, kinds_file=None, batch_ms=600_000, batch_max=10)
    (text_a, cites_a), (text_b, cites_b) = _distinct(2)
    try:
        await _warm(analyser)
        # a long answer waits in its batch; a short one is the execution's last
        first = asyncio.create_task(analyser.analyse(text_a, BRANDS, cites_a))
        await eventually(lambda: analyser._workers[0].filling())
        last = await analyser.analyse(SHORT, BRANDS, short_off_loop=True, last=True)
        assert last == analyze_answer(SHORT, BRANDS, kinds=domain_kinds())
        assert await first == analyze_answer(text_a, BRANDS, citations=cites_a,
                                             kinds=domain_kinds())
        assert (analyser.batches, analyser.sent) == (1, 2)
        # a last answer analysed on the loop (or a failed call, engine/executor.py) too
        second = asyncio.create_task(analyser.analyse(text_b, BRANDS, cites_b))
        await eventually(lambda: analyser._workers[0].filling())
        await analyser.analyse(SHORT, BRANDS, last=True)
        assert await second == analyze_answer(text_b, BRANDS, citations=cites_b,
                                              kinds=domain_kinds())
        assert (analyser.batches, analyser.sent) == (2, 3)
    finally:
        analyser.close()


async def test_an_execution_never_waits_for_a_batch_to_fill(make_engine, fake_openai) -> None:
    # a batch wait no test would see end: only the last call's flush lets the execution finish
    fake_openai.default("p", ok(LONG))
    async with make_engine([fake_platform("p", fake_openai.base_url)], analysis_processes=1,
                           analysis_batch_ms=60_000, analysis_prestart_tasks=1) as engine:
        # the worker up first: an answer that waited for its start may miss the flush and
        # wait out its batch (bounded by the wait, 50 ms by default; the docstring of flush)
        await engine.analyser.start_worker()
        record = await engine.create(request(["p"], questions=["q1", "q2", "q3"]))
        async with asyncio.timeout(30):  # the batch's wait is 60 s
            await engine.runner.wait(record.execution_id)
        rows = await engine.repository.all_results(record.execution_id)
        assert [r.status for r in rows] == ["ok"] * 3
        assert engine.analyser.in_processes == 3


@pytest.mark.parametrize(("prestart", "starts"), [(10, True), (11, False)])
async def test_an_execution_of_prestart_tasks_or_more_starts_the_analysis_processes(
    make_engine, fake_openai, prestart, starts,
) -> None:
    fake_openai.default("p", ok(SHORT))
    questions = [f"q{i}" for i in range(10)]  # 10 tasks
    before = _children()
    async with make_engine([fake_platform("p", fake_openai.base_url)], analysis_processes=1,
                           analysis_prestart_tasks=prestart) as engine:
        record = await engine.create(request(["p"], questions=questions))
        await engine.runner.wait(record.execution_id)
        rows = await engine.repository.all_results(record.execution_id)
        brands = [BrandSpec(record.brand, tuple(record.aliases or ()), is_own=True)]
        brands += [BrandSpec(c["name"], tuple(c.get("aliases") or ()))
                   for c in record.competitors or ()]
        # the same analyses wherever they ran (answers before the worker was up: inline)
        expected = analyze_answer(SHORT, brands, kinds=domain_kinds())
        assert [r.analysis for r in rows] == [expected] * 10
        if starts:
            await eventually(lambda: engine.analyser._running() is not None)
        else:
            assert engine.analyser._running() is None and engine.analyser.in_processes == 0
            assert _workers(_children() - before) == []
        # and a small execution with a worker running keeps its short answers on the loop
        if starts:
            sent = engine.analyser.sent
            record = await engine.create(request(["p"], questions=["q1", "q2"]))
            await engine.runner.wait(record.execution_id)
            assert engine.analyser.sent == sent
