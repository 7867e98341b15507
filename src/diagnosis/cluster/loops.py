"""The cluster's background loops keep going through Redis faults, but never through a cancel.

Seen under load (the leadership test, a 150 s hang before the fix): a loop cancelled by its
owner's aclose() went on running, its task marked "cancelling" but the CancelledError gone before
it reached the loop, so the owner awaiting its end waited forever. Where the cancel is lost was
not pinned down (a redis-py call interrupted mid-command either raises one of the client's own
errors, which the loops catch to retry, or returns). So every loop asks at the top of each turn,
and every handler of a Redis fault asks first, whether its task has been told to stop.
"""

import asyncio


def raise_if_cancelling() -> None:
    """Raise CancelledError when the current task has been asked to stop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
