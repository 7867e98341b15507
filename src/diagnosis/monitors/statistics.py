"""Is a change between two runs real or noise? Pure arithmetic on counts (docs/monitors.md).

Rates (mention rate, top-1 share, share of voice) are compared with the pooled two-proportion
z-test at 95% (two-sided, |z| > 1.96). A run with one sample per question never yields a
significant change: its answers are single draws per question, not a measured probability.
Never imports the engine, the database or the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.96
ONE_SAMPLE_NOTE = "one sample per question: no significance claimed (use samples > 1)"
NO_TEST_NOTE = "no significance test for this metric"
EMPTY_NOTE = "no answers to compare"


@dataclass(frozen=True, slots=True)
class Proportion:
    successes: int
    n: int

    @property
    def rate(self) -> float:
        return self.successes / self.n if self.n else 0.0


@dataclass(frozen=True, slots=True)
class TestResult:
    z: float | None
    p_value: float | None
    significant: bool


def two_proportion_z(before: Proportion, after: Proportion, *, z_crit: float = Z_95) -> TestResult:
    """Pooled two-proportion z-test of after.rate - before.rate.

    p = (x1 + x2) / (n1 + n2); se = sqrt(p (1 - p) (1/n1 + 1/n2)); z = (p2 - p1) / se;
    two-sided p-value = erfc(|z| / sqrt 2). No test (None) when a side is empty; z = 0 when
    both sides are all successes or all failures (se = 0: nothing changed).
    """
    if before.n <= 0 or after.n <= 0:
        return TestResult(None, None, False)
    pooled = (before.successes + after.successes) / (before.n + after.n)
    se = math.sqrt(pooled * (1 - pooled) * (1 / before.n + 1 / after.n))
    if se == 0:
        return TestResult(0.0, 1.0, False)
    z = (after.rate - before.rate) / se
    p_value = math.erfc(abs(z) / math.sqrt(2))
    return TestResult(round(z, 4), round(p_value, 6), abs(z) > z_crit)
