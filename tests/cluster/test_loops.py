"""A background loop ends when cancelled even when a call inside it eats the cancel
(diagnosis/cluster/loops.py); no Redis needed."""

import asyncio

import pytest

from diagnosis.cluster.loops import raise_if_cancelling

TURNS = 30


async def _call_that_eats_cancels() -> None:
    """What a client call may do with a cancel that lands in it: return as if nothing happened."""
    try:
        await asyncio.sleep(0.005)
    except asyncio.CancelledError:
        return


async def _loop(turns: list[int], *, ask: bool) -> None:
    while len(turns) < TURNS:  # bounded, so the loop that does not ask still ends the test
        if ask:
            raise_if_cancelling()
        turns.append(1)
        await _call_that_eats_cancels()


@pytest.mark.parametrize("ask", [True, False])
async def test_a_loop_that_asks_ends_on_cancel_one_that_does_not_runs_on(ask: bool) -> None:
    turns: list[int] = []
    task = asyncio.create_task(_loop(turns, ask=ask))
    await asyncio.sleep(0)  # it runs up to its first call
    assert turns == [1]
    # when it is cancelled while inside the call that eats the cancel
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    if ask:  # then it stops at its next turn
        assert task.cancelled() and len(turns) == 1
    else:  # without asking it runs every turn (unbounded, its owner's aclose() waits forever)
        assert not task.cancelled() and len(turns) == TURNS
