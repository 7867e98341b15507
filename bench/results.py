"""What a bench section hands to the report: a table, the targets it checks, and notes.

Plain data, no I/O; `report.py` turns it into stdout text and BENCHMARKS.md.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    """One target of BENCHMARKS.md next to what was measured; `ok` None = informational."""

    target: str
    measured: str
    ok: bool | None


@dataclass
class Section:
    title: str
    meaning: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    causes: list[str] = field(default_factory=list)  # why a target was missed, from the data


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def ratio(value: float) -> str:
    return f"{value:.2f}x"


def us(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1e6:.0f} us"
