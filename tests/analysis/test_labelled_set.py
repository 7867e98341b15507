"""Scores the extractor on the labelled answers of tests/data/labelled_answers.json (SPEC 8).

Mention F1 over (answer, brand) pairs, rank accuracy over pairs both expected and detected,
sentiment accuracy over pairs expected mentioned. The scores are printed and carried in the
assertion messages, so they show with or without `-s`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from diagnosis.analysis import BrandSpec, analyze_answer
from tests.conftest import SUMMARY_KEY

LABELLED = Path(__file__).resolve().parents[1] / "data" / "labelled_answers.json"
MIN_MENTION_F1 = 0.98
MIN_RANK_ACCURACY = 0.95
MIN_SENTIMENT_ACCURACY = 0.85


@dataclass
class Scores:
    true_pos: int = 0
    false_pos: int = 0
    false_neg: int = 0
    rank_hits: int = 0
    rank_total: int = 0
    sentiment_hits: int = 0
    sentiment_total: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def mention_f1(self) -> float:
        denominator = 2 * self.true_pos + self.false_pos + self.false_neg
        return 1.0 if denominator == 0 else 2 * self.true_pos / denominator

    @property
    def rank_accuracy(self) -> float:
        return self.rank_hits / self.rank_total if self.rank_total else 1.0

    @property
    def sentiment_accuracy(self) -> float:
        return self.sentiment_hits / self.sentiment_total if self.sentiment_total else 1.0

    def summary(self) -> str:
        return (
            f"mention F1 {self.mention_f1:.3f}, rank accuracy {self.rank_accuracy:.3f} "
            f"({self.rank_hits}/{self.rank_total}), sentiment accuracy "
            f"{self.sentiment_accuracy:.3f} ({self.sentiment_hits}/{self.sentiment_total})"
        )


def _load() -> list[dict[str, Any]]:
    return json.loads(LABELLED.read_text(encoding="utf-8"))


def score(answers: list[dict[str, Any]]) -> Scores:
    scores = Scores()
    for answer in answers:
        brands = [
            BrandSpec(b["name"], tuple(b["aliases"]), bool(b["is_own"])) for b in answer["brands"]
        ]
        found = {m["brand"]: m for m in analyze_answer(answer["text"], brands)["mentions"]}
        for name, expected in answer["expected"].items():
            got = found.get(name)
            if expected["mentioned"] and got is None:
                scores.false_neg += 1
                scores.misses.append(f"{answer['id']}/{name}: mention missed")
                continue
            if not expected["mentioned"]:
                if got is not None:
                    scores.false_pos += 1
                    scores.misses.append(f"{answer['id']}/{name}: false mention")
                continue
            assert got is not None
            scores.true_pos += 1
            scores.rank_total += 1
            scores.sentiment_total += 1
            if got["rank"] == expected["rank"]:
                scores.rank_hits += 1
            else:
                scores.misses.append(
                    f"{answer['id']}/{name}: rank {got['rank']} != {expected['rank']}"
                )
            if got["sentiment"] == expected["sentiment"]:
                scores.sentiment_hits += 1
            else:
                scores.misses.append(
                    f"{answer['id']}/{name}: sentiment {got['sentiment']} != "
                    f"{expected['sentiment']}"
                )
    return scores


@pytest.fixture(scope="module")
def labelled_scores(pytestconfig: pytest.Config) -> Scores:
    scores = score(_load())
    # Shown in the run's terminal summary (tests/conftest.py), also when output is captured.
    lines = [f"labelled set: {scores.summary()}", *(f"  miss: {m}" for m in scores.misses)]
    pytestconfig.stash.setdefault(SUMMARY_KEY, []).extend(lines)
    return scores


def test_labelled_set_is_large_and_two_thirds_chinese() -> None:
    answers = _load()
    chinese = sum(1 for a in answers if a["lang"] == "zh")
    assert len(answers) >= 66
    assert chinese >= 2 * len(answers) // 3 - 1
    assert len({a["id"] for a in answers}) == len(answers)


def test_labels_name_every_brand_of_their_answer() -> None:
    for answer in _load():
        assert set(answer["expected"]) == {b["name"] for b in answer["brands"]}, answer["id"]
        for label in answer["expected"].values():
            if label["mentioned"]:
                assert isinstance(label["rank"], int) and label["rank"] >= 1, answer["id"]
                assert label["sentiment"] in {"positive", "neutral", "negative"}, answer["id"]
            else:
                assert label["rank"] is None and label["sentiment"] is None, answer["id"]


def test_mention_f1_meets_the_bar(labelled_scores: Scores) -> None:
    assert labelled_scores.mention_f1 >= MIN_MENTION_F1, labelled_scores.summary()


def test_rank_accuracy_meets_the_bar(labelled_scores: Scores) -> None:
    assert labelled_scores.rank_accuracy >= MIN_RANK_ACCURACY, labelled_scores.summary()


def test_sentiment_accuracy_meets_the_bar(labelled_scores: Scores) -> None:
    assert labelled_scores.sentiment_accuracy >= MIN_SENTIMENT_ACCURACY, labelled_scores.summary()
