"""Tone of a passage: the lexicon score (negation, concession, degree) and the judge seam.

`passages.brand_passages` picks the text a brand is judged on; a `SentimentJudge` labels it.
`score_passage` is the word-level score the structural rules (`stance.py`) weigh clause by
clause. Pure: must never do I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Literal, Protocol

import ahocorasick_rs

from diagnosis.analysis import lexicon

Sentiment = Literal["positive", "neutral", "negative"]


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
# Dropped in list order where they overlap (as a regex alternation of them would be).
_ZH_DEGREE: Final = ahocorasick_rs.AhoCorasick(
    list(lexicon.ZH_DEGREE_ADVERBS), matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_FIRST
)
# characters between a negator and the word it negates (不是所有人都喜欢)
_NEGATION_REACH_ZH: Final = 5
_NEGATION_REACH_EN: Final = 4  # tokens (doesn't have a clear advantage)
# 舒适性一般: at most this many characters between a quality and its verdict
_VERDICT_GAP: Final = 2
# The lexicon's tables the scoring loops read, bound here as Final: the compiled module reads
# a Final global directly, another module's attribute through a lookup on every use.
_EN_PHRASES: Final = lexicon.EN_PHRASES
_EN_CONTRASTS: Final = lexicon.EN_CONTRASTS
_EN_CONCESSIONS: Final = lexicon.EN_CONCESSIONS
_EN_NEGATORS: Final = lexicon.EN_NEGATORS
_EN_WEIGHTS: Final = lexicon.EN_WEIGHTS
_ZH_SELF_NEGATIVE_NEGATORS: Final = lexicon.ZH_SELF_NEGATIVE_NEGATORS
_ZH_QUALITY_VERDICTS: Final = lexicon.ZH_QUALITY_VERDICTS
_EN_CLAUSES: Final = re.compile(r"[,.;:!?\n()\"“”。，；：！？]+")
# `[a-z0-9]+(?:['\-][a-z0-9]+)*`, spelt to open with one character class, which the engine
# scans for (a leading repeat hides it: see text.latin_words).
_EN_TOKEN: Final = re.compile(r"[a-z0-9][a-z0-9]*(?:['\-][a-z0-9]+)*")
# What a token must be for a phrase to start with it ("best" or "best-in" for best-in-class):
# the phrase lookups run for these tokens only.
_EN_PHRASE_HEADS: Final = frozenset(
    phrase[:i] for phrase in _EN_PHRASES for i, char in enumerate(phrase) if char == "-"
)


# The tokens that can score: a phrase's first token, a hyphenated entry, a weighted word.
_EN_SCORING: Final = _EN_PHRASE_HEADS | frozenset(_EN_PHRASES) | frozenset(_EN_WEIGHTS)


def _negated(weight: float) -> float:
    # "没有缺点" is praise, but milder than the criticism it denies.
    return -weight if weight > 0 else 1.0


_CJK: Final = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f"
)
# The lexicon's words in one Aho-Corasick automaton, built once: leftmost, then longest match,
# non-overlapping (what a regex alternation of the words sorted longest first finds, 20-40x
# faster). Breaks are runs of non-CJK, non-space characters: the words are CJK only (a test
# holds the lexicon to that), so the two never overlap and merge by position.
_ZH_WORDS: Final = list(_ZH_TABLE)
_ZH_WORD_VALUES: Final = [_ZH_TABLE[word] for word in _ZH_WORDS]
_ZH_MATCHER: Final = ahocorasick_rs.AhoCorasick(
    _ZH_WORDS, matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_LONGEST
)
_ZH_BREAK: Final = re.compile(f"[^\\s{_CJK}]+")
_HAS_CJK: Final = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
_HAS_LATIN: Final = re.compile("[a-z]")


def _zh_tokens(text: str) -> list[tuple[int, int, str, float]]:
    """(start, end, kind, weight) for lexicon words and breaks (punctuation, Latin runs): the
    stream `score_chinese` reads (it finds the breaks between words itself)."""
    values = _ZH_WORD_VALUES
    tokens = [
        (start, end, *values[index])
        for index, start, end in _ZH_MATCHER.find_matches_as_indexes(text)
    ]
    breaks = [(found.start(), found.end(), "break", 0.0) for found in _ZH_BREAK.finditer(text)]
    if breaks:
        tokens = sorted(tokens + breaks) if tokens else breaks
    return tokens


def _without_degree_adverbs(text: str) -> str:
    found = _ZH_DEGREE.find_matches_as_indexes(text)
    if not found:
        return text
    kept, cursor = [], 0
    for _index, start, end in found:
        kept.append(text[cursor:start])
        cursor = end
    kept.append(text[cursor:])
    return "".join(kept)


def score_chinese(text: str) -> float:
    """Lexicon words left to right (`_zh_tokens`' words); a clause, ended by a break, holds a
    pending negator, a concession and the last quality word (`_score_zh_words`)."""
    text = _without_degree_adverbs(text)
    words = _ZH_MATCHER.find_matches_as_indexes(text)
    return _score_zh_words(text, words, 0, len(words), 0)


def _score_zh_words(
    text: str, words: list[tuple[int, int, int]], first: int, last: int, begin: int
) -> float:
    """The score of the passage starting at `begin` in `text` (degree adverbs already cut out)
    whose lexicon words are `words[first:last]`.

    Runs for every clause of every passage, so the clause's state lives in locals, and the breaks
    between words are not tokens: only whether one lies between two words matters (a break
    resets the clause, and a second break before the next word finds nothing left to reset);
    contrast words (而) are words of kind "break"."""
    total = 0.0
    negator: str | None = None  # the pending negator, and whether a word used it
    negator_used, reach_end, conceded = False, -1, False
    last_quality: tuple[int, float] | None = None
    previous_end = begin
    for position in range(first, last):
        index, start, end = words[position]
        kind, weight = _ZH_WORD_VALUES[index]
        broken = start > previous_end and _ZH_BREAK.search(text, previous_end, start) is not None
        previous_end = end
        if broken or kind == "break" or (kind == "negator" and negator and not negator_used):
            # The clause ends: 续航不够。 (a negator that negated nothing) is a criticism.
            if negator in _ZH_SELF_NEGATIVE_NEGATORS and not negator_used:
                total += -1.0
            negator, negator_used, reach_end, conceded, last_quality = None, False, -1, False, None
        if kind == "negator":
            negator, negator_used, reach_end = text[start:end], False, end + _NEGATION_REACH_ZH
        elif kind == "concession":
            conceded = True
        elif kind == "word":
            if last_quality and text[start:end] in _ZH_QUALITY_VERDICTS:
                quality_end, quality_weight = last_quality
                if start - quality_end <= _VERDICT_GAP:
                    total -= quality_weight
            if negator and start <= reach_end:
                weight = _negated(weight)
                negator_used, reach_end = True, end + _NEGATION_REACH_ZH
            else:
                negator = None
            weight *= 0.5 if conceded else 1.0
            total += weight
            last_quality = (end, weight) if weight > 0 else None
    if negator in _ZH_SELF_NEGATIVE_NEGATORS and not negator_used:
        total += -1.0
    return total


def score_english(text: str) -> float:
    text = text.replace("’", "'")
    # No clause separator holds a token character, so the text's tokens are its clauses' tokens
    # in turn: without one that can score (a Chinese clause naming a model: "l6", "nio") the
    # score is 0, found by one scan instead of a split and a scan per clause. (One scan for
    # separators and tokens together was tried: its alternation loses the engine's skip to a
    # token's first character, and it cost more on Chinese text than it saved on English.)
    if _EN_SCORING.isdisjoint(_EN_TOKEN.findall(text)):
        return 0.0
    total = 0.0
    for clause in _EN_CLAUSES.split(text):
        tokens = _EN_TOKEN.findall(clause)
        negation_left, factor = 0, 1.0
        i = 0
        while i < len(tokens):
            size, weight, kind = 1, 0.0, "other"
            for span in (4, 3, 2) if tokens[i] in _EN_PHRASE_HEADS else ():
                phrase = "-".join(tokens[i : i + span])
                if i + span <= len(tokens) and phrase in _EN_PHRASES:
                    size, weight, kind = span, float(_EN_PHRASES[phrase]), "word"
                    break
            else:
                token = tokens[i]
                if token in _EN_PHRASES:  # a hyphenated token: best-in-class
                    weight, kind = float(_EN_PHRASES[token]), "word"
                elif token in _EN_CONTRASTS:
                    kind = "break"
                elif token in _EN_CONCESSIONS:
                    kind = "concession"
                elif token in _EN_NEGATORS:
                    kind = "negator"
                elif token in _EN_WEIGHTS:
                    weight, kind = float(_EN_WEIGHTS[token]), "word"
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
    chinese = score_chinese(text) if _HAS_CJK.search(text) else 0.0
    return chinese + (score_english(text) if _HAS_LATIN.search(text) else 0.0)


# score_passages joins its passages with this character, which no lexicon word and no degree
# adverb holds: no match then spans two passages, and each passage's matches are the ones it has
# on its own (leftmost-first and leftmost-longest alike: a scan that reaches a passage's start
# finds what a scan of the passage alone finds). Every word also holds a character _HAS_CJK
# sees, so a passage without one has no word, the 0 score_passage gives it without looking.
PASSAGE_JOIN: Final = "\x00"
_JOINABLE: Final = all(
    PASSAGE_JOIN not in word and _HAS_CJK.search(word) for word in _ZH_WORDS
) and all(PASSAGE_JOIN not in adverb for adverb in lexicon.ZH_DEGREE_ADVERBS)


def score_passages(texts: Sequence[str]) -> list[float]:
    """`[score_passage(text) for text in texts]`, reading the degree adverbs and the lexicon words
    once over all of them (two automaton calls instead of two per passage: a sentence's clauses
    are scored together, and most are a few characters long)."""
    if len(texts) < 2 or not _JOINABLE:
        return [score_passage(text) for text in texts]
    joined = PASSAGE_JOIN.join(texts)
    scores = [0.0] * len(texts)
    spans, cursor = [], 0  # each passage's span in `joined`
    for text in texts:
        spans.append((cursor, cursor + len(text)))
        cursor += len(text) + 1
    if _HAS_LATIN.search(joined):
        _add_english(texts, joined, spans, scores)
    if _HAS_CJK.search(joined):
        kept = joined
        cut = _ZH_DEGREE.find_matches_as_indexes(joined)
        if cut:  # `kept`: joined without its degree adverbs, and the spans in it
            parts, kept_spans, taken, removed, position = [], [], 0, 0, 0
            for start, end in spans:
                removed_before = removed
                while position < len(cut) and cut[position][2] <= end:
                    _index, cut_start, cut_end = cut[position]
                    parts.append(joined[taken:cut_start])
                    taken, removed = cut_end, removed + cut_end - cut_start
                    position += 1
                kept_spans.append((start - removed_before, end - removed))
            parts.append(joined[taken:])
            kept, spans = "".join(parts), kept_spans
        words = _ZH_MATCHER.find_matches_as_indexes(kept)
        position = 0
        for number, (start, end) in enumerate(spans):
            first = position
            while position < len(words) and words[position][2] <= end:
                position += 1
            if position > first:
                scores[number] += _score_zh_words(kept, words, first, position, start)
    return scores


def _add_english(
    texts: Sequence[str], joined: str, spans: list[tuple[int, int]], scores: list[float]
) -> None:
    """Adds `score_english(text)` to the score of each of `texts` that has a Latin letter (as
    `score_passage` does), `joined` being them joined by PASSAGE_JOIN and `spans` their spans in
    it: one token scan over `joined` finds the passages holding a token that can score, and
    only those are read (score_english gives the others 0, as it finds for itself). _EN_TOKEN
    has no lookaround and matches no PASSAGE_JOIN, so a passage's tokens are the joined text's
    inside its span; replacing "’" keeps every position."""
    number, last = 0, -1
    for found in _EN_TOKEN.finditer(joined.replace("’", "'")):
        if found.group() in _EN_SCORING:
            start = found.start()
            while spans[number][1] <= start:
                number += 1
            if number > last:
                last = number
                text = texts[number]
                if _HAS_LATIN.search(text):
                    scores[number] += score_english(text)


def label(score: float) -> Sentiment:
    return "positive" if score > 0 else "negative" if score < 0 else "neutral"


class LexiconJudge:
    """The default judge: sum of lexicon scores over all passages (several mentions combined)."""

    def judge(self, brand: str, passages: Sequence[str]) -> Sentiment:
        return label(sum(score_passage(passage) for passage in passages))
