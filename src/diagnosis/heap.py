"""The garbage collector for a long-running service: what start-up built is frozen out of its
sight, and young collections are rarer, so that no full collection lands in a fan-out.

Measured on a 1000-task fan-out (BENCHMARKS.md, section 6): with CPython's defaults a full
collection walks every object start-up made (~120k: modules, schemas, the ORM) and stops the
loop for 100-200 ms, longer than a provider round trip. Called once start-up is done (database
migrated, executions resumed); never collects on its own after that.
"""

import gc

from diagnosis.analysis.warm import warm_up

# (young, middle, old): a young collection every 10 000 net new containers instead of 700 keeps
# each pause to a few milliseconds and the count per 1000 tasks to a handful; a full
# collection then needs 1 000 000 of them (and CPython's own 25%-growth rule).
SERVICE_THRESHOLDS = (10_000, 10, 10)


def freeze_startup_heap() -> None:
    """Collect start-up's garbage once, move every surviving object to the permanent
    generation (never scanned again), then set the service's thresholds. What the analysis
    would build lazily in the first execution is built first, so it is frozen too."""
    warm_up()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVICE_THRESHOLDS)
