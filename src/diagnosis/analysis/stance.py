"""The rules judge: tone and stance of a brand from the structure of its passages.

Clauses are scored with the lexicon (`sentiment.score_passage`), then weighed by structure: after
a contrast (但 / 不过 / but / though ...) the later clause carries the verdict; recommendation,
hedge and warning cues (data: stance_cues.json), negated or not, give the stance; a balanced
conditional ("a fine pick if ..., otherwise ...") is neutral. Pure: must never do I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from importlib.resources import files
from typing import Final, Literal, final

import ahocorasick_rs

from diagnosis.analysis.sentiment import PASSAGE_JOIN, Sentiment, score_passages
from diagnosis.analysis.text import Value, latin_words, matches

Stance = Literal["recommended", "alternative", "warned_against", "mentioned"]
STANCES: tuple[Stance, ...] = ("recommended", "alternative", "warned_against", "mentioned")
CueKind = Literal["balanced", "warn", "recommend", "hedge"]
_PRIORITY: tuple[CueKind, ...] = ("balanced", "warn", "recommend", "hedge")


@final
class Verdict(Value):
    """What an answer says about one brand: its tone and what it advises.

    Immutable, compared and hashed by value; a class of its own rather than a frozen
    dataclass for the cost of building one (rank.ItemHit says why)."""

    __slots__ = ("sentiment", "stance")

    def __init__(self, sentiment: Sentiment, stance: Stance) -> None:
        self.sentiment: Final = sentiment
        self.stance: Final = stance

    def fields(self) -> tuple[Sentiment, Stance]:
        return (self.sentiment, self.stance)

    def __repr__(self) -> str:
        return f"Verdict(sentiment={self.sentiment!r}, stance={self.stance!r})"


def _load_cues() -> dict[str, dict[str, list[str]]]:
    data = json.loads(files("diagnosis.analysis").joinpath("stance_cues.json")
                      .read_text(encoding="utf-8"))
    return {lang: data[lang] for lang in ("zh", "en")}


_CUES: Final = _load_cues()
_ZH_KIND: Final = {
    word: kind
    for kind in ("hedge", "recommend", "warn", "balanced", "not_recommend")
    for word in _CUES["zh"][kind]
}
# Leftmost, then longest cue (as the alternation sorted longest first did), in one automaton.
_ZH_CUE_WORDS: Final = sorted(_ZH_KIND, key=len, reverse=True)
_ZH_CUE: Final = ahocorasick_rs.AhoCorasick(
    _ZH_CUE_WORDS, matchkind=ahocorasick_rs.MATCHKIND_LEFTMOST_LONGEST
)
# One group per kind, the word boundary outside the alternation: the engine tries the
# alternatives only where a word starts, which keeps the scan cheap on long answers.
_EN_CUE: Final = re.compile(
    "\\b(?:"
    + "|".join(f"(?P<{kind}>{'|'.join(_CUES['en'][kind])})" for kind in _PRIORITY)
    + ")\\b"
)
_ZH_NEGATOR: Final = re.compile(r"(?:不|没|别|难|非|无法)[^,;.!?。，；！？]{0,5}$")
_ZH_NEGATOR_WINDOW: Final = 7
_ZH_NOT_NEGATORS: Final = re.compile(r"不错|不少|不仅|不同|不妨|不管|不论|难得")
_EN_NEGATOR: Final = re.compile(
    r"\b(?:not|never|no|hardly|n't|cannot|can't|won't|wouldn't)\s+(?:\w+\s+)?$"
)
_BEST_BEFORE: Final = re.compile(r"\bbest\s+(?:\S+\s+)?$")
_LATIN_RUN: Final = re.compile("[a-z]+")
# Whether every English cue opens with a lowercase letter ("avoid", "(?:hard|difficult) to
# recommend"), so that a match can only start where a run of letters does (_en_cue_matches).
_OPENS_WITH_LETTER: Final = re.compile(r"[a-z]|\(\?:[a-z][^()|]*(?:\|[a-z][^()|]*)*\)(?![?*{])")
_CUES_OPEN_WITH_LETTER: Final = all(
    _OPENS_WITH_LETTER.match(cue) for kind in _PRIORITY for cue in _CUES["en"][kind]
)
_LEADING_LITERAL: Final = re.compile("[a-z' -]*")  # characters that stand for themselves


def _openings(cue: str) -> list[str]:
    """The text a match of `cue` certainly opens with, one string per way it can open: "hard"
    and "difficult" for "(?:hard|difficult) to recommend", "recommend" for
    "recommend(?:ed|ation)?", "i" for "i'?d pick"; "" where the pattern does not say (an
    escape, a class, a nested or optional group first, an alternative outside any group),
    which turns the filter below off."""
    depth = 0
    for char in cue:
        depth += (char == "(") - (char == ")")
        if char == "|" and depth == 0:  # "a|b": opens either way
            return [""]
    if cue.startswith("(?:"):
        depth, close = 0, -1
        for index, char in enumerate(cue):
            depth += (char == "(") - (char == ")")
            if depth == 0:
                close = index
                break
        group, after = cue[3:close], cue[close + 1 :]
        if close < 0 or "(" in group or after[:1] in ("?", "*", "{", "|"):
            return [""]
        return [opening for branch in group.split("|") for opening in _openings(branch)]
    found = _LEADING_LITERAL.match(cue)
    literal = found.group() if found else ""
    if cue[len(literal) : len(literal) + 1] in ("?", "*", "{"):
        literal = literal[:-1]  # its last character is optional
    return [literal if literal[:1].isalpha() else ""]


def _openings_by_letter() -> dict[str, tuple[str, ...]] | None:
    """Each English cue's openings, by their first letter; None when some cue has no certain
    opening (then every run of letters is tried)."""
    openings = [o for kind in _PRIORITY for cue in _CUES["en"][kind] for o in _openings(cue)]
    if not _CUES_OPEN_WITH_LETTER or not all(openings):
        return None
    by_letter: dict[str, list[str]] = {}
    for opening in sorted(set(openings)):  # "an" before "an option", which it already admits
        shorter = by_letter.setdefault(opening[0], [])
        if not any(opening.startswith(prefix) for prefix in shorter):
            shorter.append(opening)
    return {letter: tuple(found) for letter, found in by_letter.items()}


# A run of letters where no cue's opening starts is not tried: most Latin runs in a Chinese
# answer are brand and model names (NIO, SUV, OTA), and trying the whole alternation at one
# costs as much as scanning a clause.
_EN_OPENINGS: Final = _openings_by_letter()


def _opening_pattern(openings: dict[str, tuple[str, ...]]) -> re.Pattern[str]:
    """Where some cue's opening starts a run of letters, in one search. It opens with the class of
    the openings' first letters, which the engine scans for (see text.latin_words), so it skips
    to those letters instead of stopping at every run of letters as `_LATIN_RUN` does (~100
    runs in a long Chinese answer: model names); a lookbehind then refuses a letter inside a
    run, and only at a run's start is the rest of an opening tried, among those of its first
    letter (picked by a lookbehind at it). Spelt so rather than as one branch per opening
    (`a(?<![a-z]a)lso worth|...`): the engine tried all ~90 branches at every such letter of
    the text, and this search costs ~35% less on Chinese and English answers alike. The
    lookbehind only saves work: _EN_CUE's own leading \\b refuses a start inside a run."""
    letters = sorted(openings)
    rests = "|".join(
        f"(?<={re.escape(letter)})(?:{'|'.join(re.escape(o[1:]) for o in openings[letter])})"
        for letter in letters
    )
    return re.compile(f"[{''.join(map(re.escape, letters))}](?<![a-z].)(?:{rests})")


_EN_OPENING: Final = _opening_pattern(_EN_OPENINGS) if _EN_OPENINGS is not None else None

# The character a sentence ends with: a sentence ends right after each match. (A zero-width split,
# `(?<=[。!?\n])|(?<=\.)(?=\s)`, tries its lookbehinds at every position; this opens with a
# character class, which the engine scans for: see text.latin_words.)
_SENTENCE_END: Final = re.compile(r"[。!?\n.](?:(?<=\.)(?=\s)|(?<!\.))")
# Where a sentence's clauses part: `[,;:，；：、]+|\s[-–—]\s`, spelt to open with one character
# class (see text.latin_words); the two sets of the opening character are disjoint, so each
# lookbehind picks its branch.
_CLAUSE_SEPARATOR: Final = re.compile(
    r"[,;:，；：、\s](?:(?<=[,;:，；：、])[,;:，；：、]*|(?<=\s)[-–—]\s)"
)
_CONTRAST_START: Final = re.compile(
    r"\s*(?:但是|但|不过|然而|可是|可惜|反而|只是|\b(?:but|however|yet|though|although|while|whereas)\b)"
)
_CONTRAST_INSIDE: Final = re.compile(  # literals first: see text.latin_words
    "但是|但|不过|然而|可是|可惜|反而|"
    + latin_words("but", "however", "yet", "though", "although", "whereas")
)
# The characters a _CONTRAST_START match can have after its leading whitespace (\\s is what
# str.lstrip strips): a piece opening with none of them is not tried (a test holds the two to
# each other).
_CONTRAST_OPENINGS: Final = frozenset("但不然可反只bhytaw")
_CONCESSION_START: Final = re.compile(
    r"\s*(?:虽然|尽管|虽说|虽|\b(?:although|though|while|despite)\b)"
)
_CONCESSION_OPENINGS: Final = frozenset("虽尽atwd")  # as _CONTRAST_OPENINGS, for this one
_MILD: Final = re.compile(
    r"略|稍|有点|有些|\b(?:slightly|a bit|a little|somewhat|relatively|a touch)\b"
)
BEFORE_CONTRAST_WEIGHT: Final = 0.5  # what a clause before "but" still counts
IMPLIED_TURN: Final = 0.6  # "A is great, but ...": an unscored later clause still turns the verdict
MILD_FACTOR: Final = 0.3  # "不过售价略高": a mild reservation weighs less
NEUTRAL_BAND: Final = 0.5  # |score| up to this is neutral


_BRANCH_REACH: Final = 12  # a passage opening with "otherwise" is the fallback, not the condition


def _passage_at(starts: list[int], number: int, position: int) -> int:
    """The passage holding `position` (passage i starts at `starts[i]`), searched on from passage
    `number`: the matches come in text order."""
    while number < len(starts) - 1 and starts[number + 1] <= position:
        number += 1
    return number


def _zh_cues(text: str, starts: list[int], kinds: list[set[CueKind]]) -> None:
    """Adds the Chinese cues of each passage of `text` (passage i starts at `starts[i]`, see
    `_cues_in`) to `kinds[i]`."""
    number = 0
    for index, start, _end in _ZH_CUE.find_matches_as_indexes(text):
        kind = _ZH_KIND[_ZH_CUE_WORDS[index]]
        if kind == "not_recommend":
            continue
        number = _passage_at(starts, number, start)
        begin = starts[number]
        if kind == "balanced" and len(text[begin:start].strip()) < 2:
            continue
        if kind == "recommend":
            window = text[max(begin, start - _ZH_NEGATOR_WINDOW) : start]
            window = _ZH_NOT_NEGATORS.sub("", window)
            if _ZH_NEGATOR.search(window):
                kind = "warn"
        kinds[number].add(kind)  # type: ignore[arg-type]


def _en_cue_matches(text: str) -> Iterator[re.Match[str]]:
    """What `_EN_CUE.finditer(text)` finds, trying the cue only where a run of letters starts:
    its leading `\\b` hides from the engine that a match opens with a letter, and it would try
    the whole alternation at every character of a Chinese passage."""
    if not _CUES_OPEN_WITH_LETTER:
        yield from _EN_CUE.finditer(text)
        return
    opening = _EN_OPENING
    if opening is None:  # some cue's opening is unknown: every run of letters is tried
        end = 0  # a match ends on a boundary, never inside a run: the next one starts after it
        for run in matches(_LATIN_RUN, text, 0, len(text)):
            if run.start() >= end:
                found = _EN_CUE.match(text, run.start())
                if found:
                    end = found.end()
                    yield found
        return
    # The runs where a cue's opening starts, found by one search each (a match's letters lie
    # in the run it starts, so no cue can match anywhere else); after a match, the next one
    # starts at its end or later.
    at = 0
    while (candidate := opening.search(text, at)) is not None:
        start = candidate.start()
        found = _EN_CUE.match(text, start)
        if found:
            yield found
            at = max(found.end(), start + 1)
        else:
            at = start + 1


def _en_cues(text: str, starts: list[int], kinds: list[set[CueKind]]) -> None:
    """Adds the English cues of each passage of `text` to its set in `kinds`, as `_zh_cues`."""
    number = 0
    for found in _en_cue_matches(text.replace("’", "'")):
        kind: CueKind = next(k for k in _PRIORITY if found.group(k) is not None)
        start = found.start()
        number = _passage_at(starts, number, start)
        begin = starts[number]
        before = text[max(begin, start - 30) : start]
        if kind == "recommend" and _EN_NEGATOR.search(before):
            kind = "warn"
        if kind == "balanced" and len(text[begin:start].strip()) < _BRANCH_REACH // 4:
            continue
        if kind == "hedge" and _BEST_BEFORE.search(before):
            continue  # "the best Firebase alternative" is a pick, not a fallback
        kinds[number].add(kind)


def _cues_in(text: str, starts: list[int]) -> list[set[CueKind]]:
    """The cues of each passage of `text`, passage i starting at `starts[i]` (one passage, or
    several joined by PASSAGE_JOIN: see `cues_of`); every window a cue's rule reads (what
    precedes it, a negator before it) stops at its passage's start."""
    kinds = [set[CueKind]() for _ in starts]
    _zh_cues(text, starts, kinds)
    _en_cues(text, starts, kinds)
    return kinds


def cues(passage: str) -> set[CueKind]:
    """The stance cues a passage carries (negated recommendations count as warnings)."""
    return _cues_in(passage, [0])[0]


# cues_of joins its passages with PASSAGE_JOIN, which no Chinese cue holds and no English cue
# can match (each is spelt with letters, spaces, apostrophes, hyphens, \w and groups of them
# only), and which is no word character: no cue match then spans two passages, the \b at a
# passage's ends and the lookbehind of _EN_OPENING see what they see at the ends of the passage
# alone, and the leftmost-longest automaton finds in each passage what it finds in it alone.
_EN_CUE_SPELLING: Final = re.compile(r"(?:[a-z' -]|\\w|\[\\w'-\]|\(\?:|[)|?+]|\{\d+,\d+\})*")
_CUES_JOINABLE: Final = all(PASSAGE_JOIN not in word for word in _ZH_CUE_WORDS) and all(
    _EN_CUE_SPELLING.fullmatch(cue) for kind in _PRIORITY for cue in _CUES["en"][kind]
)


def cues_of(passages: Sequence[str]) -> list[set[CueKind]]:
    """`[cues(passage) for passage in passages]`, from one automaton call and one scan for
    English cues over the passages joined, instead of one of each per passage."""
    if not _CUES_JOINABLE:
        return [cues(passage) for passage in passages]
    starts, cursor = [], 0
    for passage in passages:
        starts.append(cursor)
        cursor += len(passage) + 1
    return _cues_in(PASSAGE_JOIN.join(passages), starts)


def _pieces_of(sentences: list[str]) -> list[list[str]]:
    """Each sentence's clauses, each cut again before a contrast inside it ("A好但B差"): from
    one scan for separators and one for contrasts over all the sentences (joined by
    PASSAGE_JOIN, which neither pattern matches and which is no word character), not two per
    sentence or one per clause.

    No separator or contrast holds PASSAGE_JOIN or a separator's character, and a separator's ends
    (punctuation, whitespace) are not word characters either, so the word boundaries of a
    contrast at a clause's or sentence's ends are the ones it has in that clause alone."""
    joined = PASSAGE_JOIN.join(sentences)
    separators = [(found.start(), found.end()) for found in _CLAUSE_SEPARATOR.finditer(joined)]
    contrasts = [found.start() for found in _CONTRAST_INSIDE.finditer(joined)]
    result: list[list[str]] = []
    offset, next_separator, next_contrast = 0, 0, 0
    for sentence in sentences:
        sentence_end = offset + len(sentence)
        pieces: list[str] = []
        cursor = offset
        while cursor >= 0:
            start = cursor
            if next_separator < len(separators) and separators[next_separator][0] < sentence_end:
                end, cursor = separators[next_separator]
                next_separator += 1
            else:
                end, cursor = sentence_end, -1
            while next_contrast < len(contrasts) and contrasts[next_contrast] < start:
                next_contrast += 1
            if not joined[start:end].strip():
                continue
            position = start
            while next_contrast < len(contrasts) and contrasts[next_contrast] < end:
                found = contrasts[next_contrast]
                if found > position and joined[position:found].strip():
                    pieces.append(joined[position:found])
                    position = found
                next_contrast += 1
            pieces.append(joined[position:end])
        result.append(pieces)
        offset = sentence_end + 1
    return result


def _weigh(pieces: list[str], scores: list[float]) -> tuple[float, bool]:
    """Structure-weighted score of one sentence from its pieces' lexicon scores, and whether any
    piece had a tone at all."""
    evidence = False  # any(scores), without the compiled module's lookup of builtins.any
    for score in scores:
        if score:
            evidence = True
            break
    turn = next(  # the last clause after the first that opens with a contrast
        (i for i in range(len(pieces) - 1, 0, -1)
         if pieces[i].lstrip()[:1] in _CONTRAST_OPENINGS and _CONTRAST_START.match(pieces[i])),
        None,
    )
    if turn is None:
        if (len(pieces) > 1 and pieces[0].lstrip()[:1] in _CONCESSION_OPENINGS
                and _CONCESSION_START.match(pieces[0])):
            return BEFORE_CONTRAST_WEIGHT * scores[0] + sum(scores[1:]), evidence
        return sum(scores), evidence
    before, after = sum(scores[:turn]), sum(scores[turn:])
    if after == 0 and before != 0:
        after = -IMPLIED_TURN * before
    if any(_MILD.search(piece) for piece in pieces[turn:]):
        after *= MILD_FACTOR
    return BEFORE_CONTRAST_WEIGHT * before + after, evidence


# Sentence -> its score, shared by the brands of ONE answer (a unit naming several brands is
# scored once, not once per brand); never kept across answers.
SentenceMemo = dict[str, tuple[float, bool]]


def _sentences_of(passages: Sequence[str]) -> list[list[str]]:
    """Each passage's sentences, blank ones left out: from one scan for sentence ends over the
    passages joined by PASSAGE_JOIN, not one per passage. A sentence end is one character of
    the class, and its lookahead (a "." ends one before whitespace) sees at a passage's end the
    join, no whitespace, as it sees nothing at the end of the passage alone: each passage's
    ends are the ones it has alone."""
    joined = PASSAGE_JOIN.join(passages)
    ends = [found.end() for found in _SENTENCE_END.finditer(joined)]
    result: list[list[str]] = []
    offset = at = 0
    for passage in passages:
        stop = offset + len(passage)
        sentences: list[str] = []
        cursor = offset
        while at < len(ends) and ends[at] <= stop:
            sentence = joined[cursor : ends[at]]
            if sentence.strip():
                sentences.append(sentence)
            cursor = ends[at]
            at += 1
        if cursor < stop and joined[cursor:stop].strip():
            sentences.append(joined[cursor:stop])
        result.append(sentences)
        offset = stop + 1
    return result


def weighted_scores(
    passages: Sequence[str], memo: SentenceMemo | None = None
) -> list[tuple[float, bool]]:
    """`weighted_score` of each passage. The pieces of all their sentences not in `memo` are
    scored by one `score_passages` call: the lexicon is read once for the lot."""
    memo = {} if memo is None else memo
    split = _sentences_of(passages)
    new = [s for s in dict.fromkeys(s for sentences in split for s in sentences) if s not in memo]
    if new:
        cut = _pieces_of(new)
        scores = score_passages([piece for pieces in cut for piece in pieces])
        cursor = 0
        for sentence, pieces in zip(new, cut, strict=True):
            memo[sentence] = _weigh(pieces, scores[cursor : cursor + len(pieces)])
            cursor += len(pieces)
    results = []
    for sentences in split:
        total, evidence = 0.0, False
        for sentence in sentences:
            score, has = memo[sentence]
            total, evidence = total + score, evidence or has
        results.append((total, evidence))
    return results


def weighted_score(passage: str, memo: SentenceMemo | None = None) -> tuple[float, bool]:
    """Sum over sentences of the structure-weighted clause scores; and whether any had a tone."""
    return weighted_scores([passage], memo)[0]


def verdict_of(passages: Sequence[str], *, memo: SentenceMemo | None = None) -> Verdict:
    """The rules: the strongest cue decides the stance, the weighted score the rest."""
    return verdicts_of([passages], memo=memo)[0]


def verdicts_of(
    said: Sequence[Sequence[str]], *, memo: SentenceMemo | None = None
) -> list[Verdict]:
    """`verdict_of` of each brand's passages, for all of an answer's brands at once: a passage
    two brands share has its cues read once, and the passages whose brand's cues leave the tone
    to the score are scored by one `weighted_scores` call for all those brands (its scans and
    the lexicon's automata then run once per answer, not once per brand)."""
    # A brand's passages repeat when the answer does (the same sentence in its summary and its
    # list): the cues are a union and each passage's score is the same every time, so each
    # distinct passage is read once.
    every = list(dict.fromkeys(passage for passages in said for passage in passages))
    found = dict(zip(every, cues_of(every), strict=True))
    strongest_of: list[CueKind | None] = []
    to_score: dict[str, None] = {}
    for passages in said:
        distinct = list(dict.fromkeys(passages))
        kinds = set[CueKind]()
        for passage in distinct:
            kinds |= found[passage]
        strongest = next((kind for kind in _PRIORITY if kind in kinds), None)
        strongest_of.append(strongest)
        if strongest is None or strongest == "hedge":  # only then is the score read
            to_score.update(dict.fromkeys(distinct))
    scored = (dict(zip(to_score, weighted_scores(list(to_score), memo), strict=True))
              if to_score else {})
    return [_decide(strongest, passages, scored)
            for strongest, passages in zip(strongest_of, said, strict=True)]


def _decide(
    strongest: CueKind | None, passages: Sequence[str], scored: dict[str, tuple[float, bool]]
) -> Verdict:
    if strongest == "balanced":
        return Verdict("neutral", "alternative")
    if strongest == "warn":
        return Verdict("negative", "warned_against")
    if strongest == "recommend":
        return Verdict("positive", "recommended")
    score, evidence = 0.0, False
    for passage in passages:  # summed in the passages' order, repeats included
        passage_score, has = scored[passage]
        score, evidence = score + passage_score, evidence or has
    if strongest == "hedge":
        # A hedged suggestion is mildly positive unless the passage weighs against it.
        tone: Sentiment = "positive" if score > NEUTRAL_BAND or not evidence else "neutral"
        return Verdict(tone, "alternative")
    if score > NEUTRAL_BAND:
        return Verdict("positive", "recommended")
    if score < -NEUTRAL_BAND:
        return Verdict("negative", "warned_against")
    return Verdict("neutral", "mentioned")


class RulesJudge:
    """The default judge (always runs): structure-aware tone and stance from the rules."""

    name = "rules"

    def judge(self, brand: str, passages: Sequence[str]) -> Sentiment:
        return verdict_of(passages).sentiment

    def verdicts(
        self, said: Sequence[Sequence[str]], *, memo: SentenceMemo | None = None
    ) -> list[Verdict]:
        """The verdict on each of an answer's brands, from each one's passages (`verdicts_of`;
        `memo`: one dict per answer, so sentences its brands share are scored once)."""
        return verdicts_of(said, memo=memo)
