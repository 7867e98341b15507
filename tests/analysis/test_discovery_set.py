"""Scores competitor discovery on the labelled discovery set (tests/data/discovery_*.json).

Two parts: `discovery_dev.json` (the rules were tuned on it) and `discovery_test.json` (held
out: written before any tuning and scored only, its misses not printed). Per scenario the top
10 candidates over its answers; precision = candidates that are a labelled unlisted brand /
candidates, recall = labelled brands found / labelled, both micro-averaged over scenarios.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from diagnosis.analysis import BrandSpec
from diagnosis.analysis.discovery import discover_brands
from diagnosis.analysis.text import normalize
from tests.conftest import SUMMARY_KEY

DATA = Path(__file__).resolve().parents[1] / "data"
DEV, TEST = "discovery_dev.json", "discovery_test.json"
PRECISION_BAR = 0.8
RECALL_BAR = 0.6


@dataclass
class Scores:
    correct: int = 0
    returned: int = 0
    found: int = 0
    labelled: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.returned if self.returned else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else 1.0

    def summary(self) -> str:
        return (
            f"discovery top-10 precision {self.precision:.3f} ({self.correct}/{self.returned}), "
            f"recall {self.recall:.3f} ({self.found}/{self.labelled})"
        )


def _matches(candidate: str, spelling: str) -> bool:
    key, gold = normalize(candidate), normalize(spelling)
    return key == gold or key.startswith(gold + " ") or (
        not gold.isascii() and key.startswith(gold)
    )


def score(name: str) -> Scores:
    scores = Scores()
    for scenario in json.loads((DATA / name).read_text(encoding="utf-8"))["scenarios"]:
        brands = [
            BrandSpec(scenario["brand"], is_own=True),
            *(BrandSpec(c) for c in scenario["competitors"]),
        ]
        gold = {b for a in scenario["answers"] for b in a["brands"]}
        spellings = {g: [g, *scenario["aliases"].get(g, [])] for g in gold}
        found = discover_brands([a["text"] for a in scenario["answers"]], brands)
        hit: set[str] = set()
        for candidate in found:
            owner = next(
                (g for g, names in spellings.items() if any(_matches(candidate["name"], n)
                                                            for n in names)),
                None,
            )
            scores.returned += 1
            if owner is None:
                scores.misses.append(f"{scenario['id']}: not a brand: {candidate['name']!r}")
            else:
                scores.correct += 1
                hit.add(owner)
        scores.labelled += len(gold)
        scores.found += len(hit)
        scores.misses += [f"{scenario['id']}: missed {g!r}" for g in sorted(gold - hit)]
    return scores


@pytest.fixture(scope="module")
def discovery_scores(pytestconfig: pytest.Config) -> dict[str, Scores]:
    scored = {name: score(name) for name in (DEV, TEST)}
    lines = []
    for name, scores in scored.items():
        lines.append(f"{name}: {scores.summary()}")
        if name != TEST:  # reading the held-out misses would be tuning on them
            lines.extend(f"  miss: {m}" for m in scores.misses)
    pytestconfig.stash.setdefault(SUMMARY_KEY, []).extend(lines)
    return scored


@pytest.mark.parametrize("name", [DEV, TEST])
def test_discovery_precision_of_the_top_ten(name: str, discovery_scores: dict[str, Any]) -> None:
    scores = discovery_scores[name]
    assert scores.precision >= PRECISION_BAR, scores.summary()


@pytest.mark.parametrize("name", [DEV, TEST])
def test_discovery_recall(name: str, discovery_scores: dict[str, Any]) -> None:
    scores = discovery_scores[name]
    assert scores.recall >= RECALL_BAR, scores.summary()
