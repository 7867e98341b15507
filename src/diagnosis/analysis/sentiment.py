"""Tone per mentioned brand: which passages speak about it, and what they say.

`brand_passages` picks the text a brand is judged on (its list item, table row or sentence,
clause by clause when several brands share it, plus sentences referring back with 它 / it);
a `SentimentJudge` labels them. The default judge is lexicon-based; an LLM judge can replace
it. Pure: must never do I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise
from typing import Literal, Protocol

from diagnosis.analysis import lexicon
from diagnosis.analysis.mentions import Mention, is_cjk
from diagnosis.analysis.rank import locate_item
from diagnosis.analysis.text import Layout

Sentiment = Literal["positive", "neutral", "negative"]
Span = tuple[int, int]


class SentimentJudge(Protocol):
    """Labels the passages that speak about one brand (canonical name given for context)."""

    def judge(self, brand: str, passages: Sequence[str]) -> Sentiment: ...


# --- scoring -------------------------------------------------------------------------------

_ZH_TABLE: dict[str, tuple[str, float]] = {
    **{word: ("neutral", 0.0) for word in lexicon.ZH_NEUTRAL},
    **{word: ("negator", 0.0) for word in lexicon.ZH_NEGATORS},
    **{word: ("concession", 0.0) for word in lexicon.ZH_CONCESSIONS},
    **{word: ("break", 0.0) for word in lexicon.ZH_CONTRASTS},
    **{word: ("word", float(weight)) for word, weight in lexicon.ZH_WEIGHTS.items()},
}
_ZH_LONGEST = max(len(word) for word in _ZH_TABLE)
_ZH_DEGREE = re.compile("|".join(lexicon.ZH_DEGREE_ADVERBS))
_NEGATION_REACH_ZH = 5  # characters between a negator and the word it negates (不是所有人都喜欢)
_NEGATION_REACH_EN = 4  # tokens (doesn't have a clear advantage)
_VERDICT_GAP = 2  # 舒适性一般: at most this many characters between a quality and its verdict
_EN_CLAUSES = re.compile(r"[,.;:!?\n()\"“”。，；：！？]+")
_EN_TOKEN = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")


def _negated(weight: float) -> float:
    # "没有缺点" is praise, but milder than the criticism it denies.
    return -weight if weight > 0 else 1.0


def _zh_tokens(text: str) -> list[tuple[int, int, str, float]]:
    """(start, end, kind, weight) for lexicon words and breaks (punctuation, Latin runs)."""
    tokens: list[tuple[int, int, str, float]] = []
    i = 0
    while i < len(text):
        if not is_cjk(text[i]):
            if not text[i].isspace():
                tokens.append((i, i + 1, "break", 0.0))
            i += 1
            continue
        size = next(
            (
                n
                for n in range(min(_ZH_LONGEST, len(text) - i), 0, -1)
                if text[i : i + n] in _ZH_TABLE
            ),
            0,
        )
        if size:
            kind, weight = _ZH_TABLE[text[i : i + size]]
            tokens.append((i, i + size, kind, weight))
        i += size or 1
    return tokens


class _Clause:
    """Running state of one clause: a pending negator, a concession, the last quality word."""

    def __init__(self) -> None:
        self.negator: str | None = None
        self.negator_used = False
        self.reach_end = -1
        self.conceded = False
        self.last_quality: tuple[int, float] | None = None

    def close(self) -> float:
        """Score left by the clause's end: 续航不够。 is a criticism on its own."""
        unused = self.negator in lexicon.ZH_SELF_NEGATIVE_NEGATORS and not self.negator_used
        self.__init__()  # type: ignore[misc]
        return -1.0 if unused else 0.0


def score_chinese(text: str) -> float:
    text = _ZH_DEGREE.sub("", text)
    total, clause = 0.0, _Clause()
    for start, end, kind, weight in _zh_tokens(text):
        if kind == "break":
            total += clause.close()
        elif kind == "negator":
            total += clause.close() if clause.negator and not clause.negator_used else 0.0
            clause.negator, clause.negator_used = text[start:end], False
            clause.reach_end = end + _NEGATION_REACH_ZH
        elif kind == "concession":
            clause.conceded = True
        elif kind == "word":
            word = text[start:end]
            if word in lexicon.ZH_QUALITY_VERDICTS and clause.last_quality:
                quality_end, quality_weight = clause.last_quality
                if start - quality_end <= _VERDICT_GAP:
                    total -= quality_weight
            if clause.negator and start <= clause.reach_end:
                weight = _negated(weight)
                clause.negator_used, clause.reach_end = True, end + _NEGATION_REACH_ZH
            else:
                clause.negator = None
            weight *= 0.5 if clause.conceded else 1.0
            total += weight
            clause.last_quality = (end, weight) if weight > 0 else None
    return total + clause.close()


def score_english(text: str) -> float:
    total = 0.0
    for clause in _EN_CLAUSES.split(text.replace("’", "'")):
        tokens = _EN_TOKEN.findall(clause)
        negation_left, factor = 0, 1.0
        i = 0
        while i < len(tokens):
            size, weight, kind = 1, 0.0, "other"
            for span in (4, 3, 2):
                phrase = "-".join(tokens[i : i + span])
                if i + span <= len(tokens) and phrase in lexicon.EN_PHRASES:
                    size, weight, kind = span, float(lexicon.EN_PHRASES[phrase]), "word"
                    break
            else:
                token = tokens[i]
                if token in lexicon.EN_PHRASES:  # a hyphenated token: best-in-class
                    weight, kind = float(lexicon.EN_PHRASES[token]), "word"
                elif token in lexicon.EN_CONTRASTS:
                    kind = "break"
                elif token in lexicon.EN_CONCESSIONS:
                    kind = "concession"
                elif token in lexicon.EN_NEGATORS:
                    kind = "negator"
                elif token in lexicon.EN_WEIGHTS:
                    weight, kind = float(lexicon.EN_WEIGHTS[token]), "word"
            i += size
            if kind == "break":
                negation_left, factor = 0, 1.0
            elif kind == "concession":
                factor = 0.5
            elif kind == "negator":
                negation_left = _NEGATION_REACH_EN
            elif kind == "word" and weight:
                total += factor * (_negated(weight) if negation_left > 0 else weight)
                negation_left = 0
            elif kind == "word":
                negation_left = 0  # a neutral phrase ("not only") cancels the negator
            else:
                negation_left -= 1
    return total


def score_passage(text: str) -> float:
    """Sum of lexicon weights, negation applied, over a normalised passage."""
    return score_chinese(text) + score_english(text)


def label(score: float) -> Sentiment:
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


class LexiconJudge:
    """The default judge: sum of lexicon scores over all passages (several mentions combined)."""

    def judge(self, brand: str, passages: Sequence[str]) -> Sentiment:
        return label(sum(score_passage(passage) for passage in passages))


# --- which text speaks about which brand ---------------------------------------------------

_SENTENCE_END = re.compile(r"[。!?\n]+|\.(?=\s|$|[\u4e00-\u9fff])")
_CLAUSE_BREAK = re.compile(
    r"[,;。!?\n]+|\.(?=\s|$)|但是|但|然而|不过|可是|(?<![从因反进然])而(?![且言是])"
    r"|\b(?:but|while|whereas|however|although|though)\b"
)
_OBJECT_BEFORE = re.compile(
    r"(?:比|相比|相比于|相较于|对比|较之|不如|比不上|比得上|不及|超过|超越|(?<![对关由])于"
    r"|\bthan|\bcompared (?:to|with)|\bunlike|\bversus|\bvs\.?)\s*(?:the\s+)?$"
)
_COMPARE_SPAN = re.compile(r"(?:与|和|跟|同)(?P<objects>[^,;。!?\n]{1,40}?)(?:相比|比较|比起|对比)")
_ENUMERATION = re.compile(r"\s*(?:、|和|与|及|以及|或|,|\band\b|\bor\b|&)\s*")
_FILLER = re.compile(r"(?:[\s\W_]|和|与|及|或|以及|and|or|the)*")


def _pieces(start: int, end: int, text: str, pattern: re.Pattern[str]) -> list[Span]:
    spans, cursor = [], start
    for found in pattern.finditer(text, start, end):
        if found.start() > cursor:
            spans.append((cursor, found.start()))
        cursor = found.end()
    if cursor < end:
        spans.append((cursor, end))
    return [span for span in spans if text[span[0] : span[1]].strip()]


def _objects(text: str, clause: Span, inside: Sequence[Mention]) -> set[Mention]:
    """Brands named only as the yardstick of a comparison (比理想更省心, 与蔚来、理想相比,
    than Tesla): the clause is not about them."""
    compared = [
        found.span("objects") for found in _COMPARE_SPAN.finditer(text, clause[0], clause[1])
    ]
    objects: set[Mention] = set()
    previous: Mention | None = None
    for mention in sorted(inside, key=lambda m: m.start):
        before = text[clause[0] : mention.start]
        if (
            _OBJECT_BEFORE.search(before)
            or any(start <= mention.start and mention.end <= end for start, end in compared)
            or (
                previous in objects
                and previous is not None
                and _ENUMERATION.fullmatch(text[previous.end : mention.start])
            )
        ):
            objects.add(mention)
        previous = mention
    return objects


def _attribute_clauses(
    text: str, unit: Span, mentions: Sequence[Mention], out: dict[int, list[str]]
) -> set[int]:
    """Share a unit naming several brands out clause by clause; returns the last clause's
    brands (what a following 它 / it refers to)."""
    current: set[int] = set()
    pending: set[int] = set()
    for clause in _pieces(unit[0], unit[1], text, _CLAUSE_BREAK):
        inside = [m for m in mentions if clause[0] <= m.start < clause[1]]
        objects = _objects(text, clause, inside)
        subjects = {m.brand for m in inside if m not in objects}
        rest = text[clause[0] : clause[1]]
        for mention in sorted(inside, key=lambda m: -m.start):
            rest = rest[: mention.start - clause[0]] + rest[mention.end - clause[0] :]
        if subjects and _FILLER.fullmatch(rest):  # "蔚来，服务好": the name alone, then its clause
            pending |= subjects
            continue
        if subjects or pending:
            current = subjects | pending
            pending = set()
        for brand in current:
            out.setdefault(brand, []).append(text[clause[0] : clause[1]])
    return current


def _refers_back(sentence: str) -> bool:
    if any(word in sentence for word in lexicon.ZH_BACK_REFERENCES):
        return True
    if "其" in sentence and not all(
        any(word in sentence[max(0, i - 1) : i + 2] for word in lexicon.ZH_QI_NOT_REFERENCE)
        for i, char in enumerate(sentence)
        if char == "其"
    ):
        return True
    tokens = _EN_TOKEN.findall(sentence.replace("’", "'"))
    pairs = {f"{a}-{b}" for a, b in pairwise(tokens)}
    return bool(lexicon.EN_BACK_REFERENCES & (set(tokens) | pairs))


def _in(span: Span, position: int) -> bool:
    return span[0] <= position < span[1]


def brand_passages(text: str, layout: Layout, mentions: Sequence[Mention]) -> dict[int, list[str]]:
    """The passages each mentioned brand is judged on, keyed by brand index."""
    sentences = [
        (paragraph, sentence)
        for paragraph in layout.prose
        for sentence in _pieces(paragraph[0], paragraph[1], text, _SENTENCE_END)
    ]
    units: dict[Span, list[Mention]] = {}
    for mention in mentions:
        hit = locate_item(layout, mention, mentions)
        unit: Span | None = (hit.start, hit.end) if hit else None
        unit = unit or next((row for row in layout.table_rows if _in(row, mention.start)), None)
        unit = unit or next((s for _, s in sentences if _in(s, mention.start)), None)
        units.setdefault(unit or (mention.start, mention.end), []).append(mention)

    out: dict[int, list[str]] = {}
    for unit, inside in units.items():
        if len({m.brand for m in inside}) == 1:
            out.setdefault(inside[0].brand, []).append(text[unit[0] : unit[1]])
        else:
            _attribute_clauses(text, unit, inside, out)

    # Sentences that name no brand but refer back to the one just discussed (它 / it).
    last: set[int] = set()
    previous_paragraph: Span | None = None
    for paragraph, sentence in sentences:
        if paragraph != previous_paragraph:
            last, previous_paragraph = set(), paragraph
        named = units.get(sentence)
        if named:
            brands = {m.brand for m in named}
            last = brands if len(brands) == 1 else _attribute_clauses(text, sentence, named, {})
        elif last and _refers_back(text[sentence[0] : sentence[1]]):
            for brand in last:
                out.setdefault(brand, []).append(text[sentence[0] : sentence[1]])
    return out
