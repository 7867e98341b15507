"""Turns a diagnosis request into its task list (SPEC 3): `{brand}` expansion, platforms, samples.

Pure: no I/O. The task_key is a hash of what is asked where, so it is stable across restarts
and is the idempotency key of a result.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from diagnosis.persistence.records import TaskSpec

BRAND_PLACEHOLDER = "{brand}"
# The mini-program's default questions write `{brandName}`; it means `{brand}` on every route.
BRAND_SYNONYMS = ("{brandName}",)

DEFAULT_QUESTIONS: tuple[str, ...] = (
    "介绍一下{brand}",
    "{brand}的主要产品是什么",
    "{brand}和竞品有什么区别",
)


@dataclass(frozen=True, slots=True)
class ExpandedQuestion:
    question: str
    template: str
    subject: str | None


def task_key(question: str, platform: str, sample: int) -> str:
    digest = hashlib.sha256(f"{platform}\x1f{sample}\x1f{question}".encode()).hexdigest()
    return digest[:24]


def canonical_template(template: str) -> str:
    """The template with every synonym of `{brand}` written `{brand}`: a question that says
    `{brand}` keeps its text, so its task_key does not change."""
    for synonym in BRAND_SYNONYMS:
        template = template.replace(synonym, BRAND_PLACEHOLDER)
    return template


def canonical_questions(templates: Sequence[str]) -> list[str]:
    """Each template in its canonical form, in order (duplicates are dropped at expansion)."""
    return [canonical_template(t) for t in templates]


def expand_questions(templates: Sequence[str], brands: Sequence[str]) -> list[ExpandedQuestion]:
    """Each `{brand}` template once per brand (own brand first); identical questions once."""
    seen: set[str] = set()
    expanded: list[ExpandedQuestion] = []
    for template in canonical_questions(templates):
        variants: list[tuple[str, str | None]]
        if BRAND_PLACEHOLDER in template:
            variants = [(template.replace(BRAND_PLACEHOLDER, b), b) for b in brands]
        else:
            variants = [(template, None)]
        for question, subject in variants:
            if question in seen:
                continue
            seen.add(question)
            expanded.append(ExpandedQuestion(question, template, subject))
    return expanded


def plan_tasks(
    *, templates: Sequence[str], brands: Sequence[str], platforms: Sequence[str], samples: int
) -> list[TaskSpec]:
    """All tasks in their stable order: question, then platform, then sample."""
    tasks: list[TaskSpec] = []
    for q in expand_questions(templates, brands):
        for platform in platforms:
            for sample in range(samples):
                tasks.append(
                    TaskSpec(
                        task_key=task_key(q.question, platform, sample),
                        ordinal=len(tasks),
                        question=q.question,
                        template=q.template,
                        subject=q.subject,
                        platform=platform,
                        sample=sample,
                    )
                )
    return tasks
