"""The diagnosis report (SPEC 8): per-brand, per-platform and per-question metrics, gaps, cited
sources and errors, built from an execution's results as one JSON-ready dict.

Pure and deterministic (no clock, no I/O): the engine loads the results and passes them in; this
module never touches the database, the network or another diagnosis subpackage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel

from diagnosis.analysis.discovery import answer_discoveries, tally_discoveries
from diagnosis.analysis.judge import judge_agreement
from diagnosis.analysis.metrics import Answer, BrandMetrics, brand_metrics, subject_metrics
from diagnosis.analysis.report_sources import Sources, source_section
from diagnosis.analysis.schemas import BrandSpec

QuestionKind = Literal["open", "templated"]
MetricsBasis = Literal["open_questions", "all_answers"]

DEFINITIONS = "docs/metrics.md"
VISIBILITY_FORMULA = (
    "100 x (0.5 x mention_rate + 0.3 x rank_score + 0.2 x (sentiment_index + 1) / 2)"
)
NO_OK_NOTE = "no successful answers: metrics are empty"
NO_OPEN_OK_NOTE = "no successful answers to open questions: visibility metrics are empty"
FALLBACK_NOTE = (
    "no open question: mention rate, rank, top-1 share and share of voice are computed over "
    "all answers, including templated ones that name their subject by construction"
)
OPEN_BASIS_NOTE = (
    "mention rate, rank, top-1 share and share of voice are computed over open questions' ok "
    "answers only; templated answers enter the sentiment index of their subject"
)
DISCOVERY_NOTE = (
    "discovered_brands are candidates: names the answers put at the head of list items or brand "
    "table rows that the request did not list, found by rules; check them before adding one as "
    "a competitor (POST /api/diagnoses/{id}/retry with add_competitors)"
)
KINDS_NOTE = (
    "open questions (no {brand}) measure visibility: does the assistant name the brand "
    "unprompted; templated questions ({brand} expanded per brand) measure how each brand is "
    "described when asked about it"
)


@dataclass(frozen=True, slots=True)
class ResultView:
    """One task's result as the report needs it."""

    task_key: str
    question: str  # as sent, after expansion
    template: str  # as written in the request
    subject: str | None  # the brand a `{brand}` question is about
    platform: str
    sample: int
    status: str  # ok | error | cancelled | pending
    error_kind: str | None
    answer: str | None
    latency_ms: int | None
    analysis: dict | None


@dataclass(frozen=True, slots=True)
class ReportInput:
    """The execution as the report needs it."""

    execution_id: str
    brands: Sequence[BrandSpec]  # own brand first (is_own=True)
    questions: Sequence[str]  # templates as written
    platforms: Sequence[tuple[str, str]]  # (id, display_name)
    samples: int
    status: str
    created_at: datetime | None
    finished_at: datetime | None


class Summary(BaseModel):
    total_results: int
    ok_results: int
    failed_results: int  # error + cancelled
    pending_results: int
    unanalyzed_results: int  # ok but without an analysis yet: left out of every metric
    metrics_basis: MetricsBasis
    note: str | None


class Methodology(BaseModel):
    definitions: str = DEFINITIONS
    question_kinds: str = KINDS_NOTE
    metrics_basis: str
    visibility_formula: str = VISIBILITY_FORMULA
    discovered_brands: str = DISCOVERY_NOTE


class DiscoveredBrand(BaseModel):
    """A brand the answers list that the request did not (a candidate: check it by hand)."""

    name: str
    mentions: int  # answers (of the visibility basis) heading an item or row with it
    mention_rate: float  # mentions / those answers
    avg_rank: float  # its mean item / row rank where found
    example: str  # the first line it heads


class PlatformReport(BaseModel):
    platform: str
    display_name: str
    ok: int
    failed: int
    brands: list[BrandMetrics]


class QuestionReport(BaseModel):
    question: str  # the template as written
    kind: QuestionKind
    ok: int
    failed: int
    brands: list[BrandMetrics]


class Gap(BaseModel):
    question: str
    kind: QuestionKind
    answers: int  # ok answers to the question that can show a gap
    own_mentions: int  # of those, answers naming the own brand
    gap_answers: int  # answers naming a competitor but not the own brand
    brand_absent: Literal[True] = True
    competitors: list[str]  # present in the gap answers, most frequent first
    competitor_counts: dict[str, int]
    platforms: list[str]  # where the gap answers came from


class Errors(BaseModel):
    by_kind: dict[str, int]
    by_platform: dict[str, dict[str, int]]


class Judges(BaseModel):
    """Who labelled sentiment and stance (docs/analysis.md, "Judges"), and how often an LLM
    judge agreed with the rules where both ran."""

    labelled_by: dict[str, int]  # answers per judge: "rules", "llm:<model>"
    compared_mentions: int
    sentiment_agreement: float | None
    stance_agreement: float | None


class Report(BaseModel):
    execution_id: str
    status: str
    generated_at: datetime | None
    created_at: datetime | None
    finished_at: datetime | None
    samples: int
    own_brand: str | None
    competitors: list[str]
    summary: Summary
    methodology: Methodology
    brands: list[BrandMetrics]
    platforms: list[PlatformReport]
    questions: list[QuestionReport]
    gaps: list[Gap]
    sources: Sources
    errors: Errors
    judges: Judges
    discovered_brands: list[DiscoveredBrand]


def question_kind(template: str) -> QuestionKind:
    """A question with `{brand}` is templated (asked once per brand); any other one is open."""
    return "templated" if "{brand}" in template else "open"


_Analysed = tuple[ResultView, Answer]
_T = TypeVar("_T")


def _is_failed(result: ResultView) -> bool:
    return result.status in ("error", "cancelled")


def _ordered_unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _ranked(counter: Counter[str], top_n: int) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]


def _by(values: Sequence[_T], key: Callable[[_T], str]) -> dict[str, list[_T]]:
    """`values` grouped by `key`, each group in the order of `values`: one pass, where a filter
    per platform or question would read every result once per group (50 questions x 1000
    results in a large report)."""
    groups: dict[str, list[_T]] = {}
    for value in values:
        groups.setdefault(key(value), []).append(value)
    return groups


def _platform_of(item: _Analysed) -> str:
    return item[0].platform


def _template_of(item: _Analysed) -> str:
    return item[0].template


def _platform_section(
    inp: ReportInput,
    results: Sequence[ResultView],
    pool: Sequence[_Analysed],
    analysed: Sequence[_Analysed],
) -> list[PlatformReport]:
    names = dict(inp.platforms)
    ids = _ordered_unique([p for p, _ in inp.platforms] + [r.platform for r in results])
    results_of = _by(results, lambda r: r.platform)
    pool_of, analysed_of = _by(pool, _platform_of), _by(analysed, _platform_of)
    return [
        PlatformReport(
            platform=pid,
            display_name=names.get(pid, pid),
            ok=sum(r.status == "ok" for r in results_of.get(pid, ())),
            failed=sum(_is_failed(r) for r in results_of.get(pid, ())),
            brands=brand_metrics(
                inp.brands,
                visibility=[a for _, a in pool_of.get(pid, ())],
                sentiment=[a for _, a in analysed_of.get(pid, ())],
                samples=inp.samples,
            ),
        )
        for pid in ids
    ]


def _question_section(
    inp: ReportInput, results: Sequence[ResultView], analysed: Sequence[_Analysed]
) -> list[QuestionReport]:
    sections = []
    results_of, analysed_of = _by(results, lambda r: r.template), _by(analysed, _template_of)
    for template in _ordered_unique([*inp.questions, *(r.template for r in results)]):
        answers = [a for _, a in analysed_of.get(template, ())]
        asked = results_of.get(template, [])
        kind = question_kind(template)
        sections.append(
            QuestionReport(
                question=template,
                kind=kind,
                ok=sum(r.status == "ok" for r in asked),
                failed=sum(_is_failed(r) for r in asked),
                brands=brand_metrics(
                    inp.brands, visibility=answers, sentiment=answers, samples=inp.samples
                )
                if kind == "open"
                else subject_metrics(inp.brands, answers, samples=inp.samples),
            )
        )
    return sections


def _gap_section(inp: ReportInput, analysed: Sequence[_Analysed]) -> list[Gap]:
    """Answers naming a competitor but not the own brand, per question.

    Only open answers and templated answers about the own brand can show a gap: an answer about
    a competitor names that competitor by construction.
    """
    own = next((b.name for b in inp.brands if b.is_own), None)
    if own is None:
        return []
    rivals = [b.name for b in inp.brands if b.name != own]
    gaps = []
    for template, answered in _by(analysed, _template_of).items():
        eligible = [(r, a) for r, a in answered if a.subject in (None, own)]
        missing = [(r, a) for r, a in eligible if own not in a.mentions]
        present: Counter[str] = Counter(
            name for _, a in missing for name in rivals if name in a.mentions
        )
        if not present:
            continue
        gap_rows = [(r, a) for r, a in missing if any(n in a.mentions for n in rivals)]
        gaps.append(
            Gap(
                question=template,
                kind=question_kind(template),
                answers=len(eligible),
                own_mentions=len(eligible) - len(missing),
                gap_answers=len(gap_rows),
                competitors=sorted(present, key=lambda n: (-present[n], rivals.index(n))),
                competitor_counts={n: present[n] for n in rivals if n in present},
                platforms=_ordered_unique([r.platform for r, _ in gap_rows]),
            )
        )
    return gaps


def _error_section(results: Sequence[ResultView]) -> Errors:
    by_kind: Counter[str] = Counter()
    by_platform: dict[str, Counter[str]] = {}
    for r in results:
        if _is_failed(r):
            kind = r.error_kind or r.status  # a cancelled task may carry no kind
            by_kind[kind] += 1
            by_platform.setdefault(r.platform, Counter())[kind] += 1
    return Errors(
        by_kind=dict(_ranked(by_kind, len(by_kind))),
        by_platform={p: dict(_ranked(c, len(c))) for p, c in by_platform.items()},
    )


def _summary(
    results: Sequence[ResultView],
    analysed: Sequence[_Analysed],
    pool: Sequence[_Analysed],
    basis: MetricsBasis,
) -> Summary:
    ok = sum(r.status == "ok" for r in results)
    notes = []
    if not analysed:
        notes.append(NO_OK_NOTE)
    elif not pool:
        notes.append(NO_OPEN_OK_NOTE)
    if basis == "all_answers":
        notes.append(FALLBACK_NOTE)
    return Summary(
        total_results=len(results),
        ok_results=ok,
        failed_results=sum(_is_failed(r) for r in results),
        pending_results=sum(r.status == "pending" for r in results),
        unanalyzed_results=ok - len(analysed),
        metrics_basis=basis,
        note="; ".join(notes) or None,
    )


class _Stored(Protocol):  # a ResultView, or the repository's record it is made of
    @property
    def status(self) -> str: ...
    @property
    def analysis(self) -> dict | None: ...


def reads_answers(results: Iterable[_Stored]) -> bool:
    """Whether build_report over these results reads an answer's text: only to find the
    discoveries of an analysed ok answer whose analysis does not hold them (_discovered)."""
    return any(r.status == "ok" and r.analysis is not None and not stores_discoveries(r.analysis)
               for r in results)


def stores_discoveries(analysis: object) -> bool:
    """Whether a stored analysis holds its answer's discoveries, well formed (analyses written
    before analyze_answer added them hold none: their answer is read again)."""
    found = analysis.get("discovered") if isinstance(analysis, dict) else None
    return isinstance(found, list) and all(
        isinstance(item, dict)
        and isinstance(item.get("name"), str)
        and type(item.get("rank")) is int
        and isinstance(item.get("example"), str)
        for item in found
    )


def _discovered(result: ResultView, brands: Sequence[BrandSpec]) -> list[dict[str, object]]:
    if stores_discoveries(result.analysis):
        return list(result.analysis["discovered"])  # type: ignore[index]
    return answer_discoveries(result.answer or "", brands)


def build_report(inp: ReportInput, results: Sequence[ResultView], *, top_n: int = 20) -> dict:
    """The whole report as a JSON-ready dict (datetimes as ISO strings)."""
    known = {b.name for b in inp.brands}
    analysed: list[_Analysed] = [
        (r, Answer.from_analysis(r.analysis, subject=r.subject, known=known))
        for r in results
        if r.status == "ok" and r.analysis is not None
    ]
    templates = inp.questions or _ordered_unique([r.template for r in results])
    has_open = any(question_kind(t) == "open" for t in templates)
    basis: MetricsBasis = "open_questions" if has_open else "all_answers"
    pool = (
        [(r, a) for r, a in analysed if question_kind(r.template) == "open"]
        if has_open
        else analysed
    )
    own = next((b.name for b in inp.brands if b.is_own), None)
    report = Report(
        execution_id=inp.execution_id,
        status=inp.status,
        generated_at=inp.finished_at,
        created_at=inp.created_at,
        finished_at=inp.finished_at,
        samples=inp.samples,
        own_brand=own,
        competitors=[b.name for b in inp.brands if b.name != own],
        summary=_summary(results, analysed, pool, basis),
        methodology=Methodology(
            metrics_basis=OPEN_BASIS_NOTE if basis == "open_questions" else FALLBACK_NOTE
        ),
        brands=brand_metrics(
            inp.brands,
            visibility=[a for _, a in pool],
            sentiment=[a for _, a in analysed],
            samples=inp.samples,
        ),
        platforms=_platform_section(inp, results, pool, analysed),
        questions=_question_section(inp, results, analysed),
        gaps=_gap_section(inp, analysed),
        sources=source_section([(r.analysis, a) for r, a in analysed], inp.brands, top_n=top_n),
        errors=_error_section(results),
        judges=Judges(**judge_agreement(r.analysis for r, _ in analysed if r.analysis)),
        discovered_brands=[
            DiscoveredBrand.model_validate(found)
            for found in tally_discoveries([_discovered(r, inp.brands) for r, _ in pool])
        ],
    )
    return report.model_dump(mode="json")
