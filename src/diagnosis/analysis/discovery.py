"""Competitor discovery (SPEC 8): brands the answers put at the head of list items or table
rows that the request did not list, counted across answers, as candidates.

Rules read the answer's structure only (numbered / bulleted items, `###` headers, a table's
first column under a brand-like header); generic heads ("其他国产品牌", "Budget options") are
refused by the stop-list next to this module and by shape. Pure; never does I/O past that file.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Final, NamedTuple

from diagnosis.analysis.mentions import find_mentions
from diagnosis.analysis.schemas import BrandSpec
from diagnosis.analysis.text import _FULL_WIDTH, normalize

# Through the package, not __file__: the compiled module's __file__ is not the source's (native.py).
STOPLIST: Final = Path(str(files("diagnosis.analysis").joinpath("discovery_stoplist.json")))
TOP_N: Final = 10
EXAMPLE_CHARS: Final = 120
RATE_DIGITS: Final = 4

# An item's marker: "1." "1)" "1、" "(1)" "一、" (after NFKC), optionally after "### "; bullets.
_NUMBERED: Final = re.compile(
    r"^\s{0,3}(?:#{1,6}\s*)?(?:\*\*|__)?\s*(?:(\d{1,2})(?:\.(?!\d)|\)|、)|\((\d{1,2})\)|"
    r"([一二三四五六七八九十]{1,3})[、.])\s*(?P<rest>.+)$"
)
_BULLET: Final = re.compile(r"^(?P<indent>\s{0,3})(?:[-*+]\s+|[•●▪◦]\s*)(?P<rest>.+)$")
_HEADER: Final = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<rest>.+)$")
_TABLE: Final = re.compile(r"^\s*\|(?P<cells>.+)\|\s*$")
_TABLE_SEPARATOR: Final = re.compile(r"^[\s|:\-]+$")
_BOLD: Final = re.compile(r"^(?:\*\*|__)(?P<head>.+?)(?:\*\*|__)(?P<after>.*)$")
_LINK: Final = re.compile(r"^\[(?P<head>[^\]]+)\]\([^)]*\)(?P<after>.*)$")
_SEPARATOR: Final = re.compile(r"\s*(?:[：:]|\s[-–—]\s|——|—|\s\|\s)\s*")
# What a _SEPARATOR match opens with (whitespace, a colon, a dash): a search for it skips ahead
# in C, while _SEPARATOR, opening with `\s*`, is tried at every position.
_SEPARATOR_START: Final = re.compile(r"[\s：:—]")
_SENTENCE: Final = re.compile(r"[，。,;；!！?？、]|https?://")
_PAREN: Final = re.compile(r"\s*[（(][^（()）]*[）)]\s*$")
_PRICE: Final = re.compile(r"\d+\s*(?:元|万|千|百|块|k\b|w\b|rmb|\$|美元|寸|英寸)|^[\d\s.$¥￥-]+$")
_CHINESE_DIGITS: Final = "一二三四五六七八九十"
# The character a line opens with, after its leading whitespace (`\s` is str.isspace), if
# _NUMBERED (that, or any `\d`, which is str.isdecimal) or _BULLET is to match it; _TABLE
# needs a "|" there and _HEADER a "#" first of all. Most lines are prose and try none of them.
_NUMBERED_STARTS: Final = frozenset("#*_(" + _CHINESE_DIGITS)
_BULLET_STARTS: Final = frozenset("-*+•●▪◦")
_ITEM_STARTS: Final = _NUMBERED_STARTS | _BULLET_STARTS  # _HEADER's "#" among them
# is_cjk's ranges as one character class: a search in C, not a Python call per character.
_CJK: Final = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f]"
)
_MODEL_TAIL: Final = re.compile(r"[\sA-Za-z0-9+\-.]*\d[\sA-Za-z0-9+\-.]*$")
# A list introduced like this lists criteria, not brands ("选手机主要看这几点：", "Some things
# to consider:"), unless the intro speaks of brands or picks. The Chinese words and the Latin
# ones are two patterns: the Chinese ones open with uncased characters, so a search for them
# skips ahead in C, while `\b` and IGNORECASE letters have the engine try every position.
_CRITERIA_INTRO: Final = re.compile(
    r"几点|几个方面|方面|因素|维度|注意|考虑|要点|看这|关注|建议|技巧|标准"
)
_CRITERIA_LATIN: Final = re.compile(
    r"\b(?:things?|factors?|consider|considerations|check|look for|keep in mind|tips|criteria|"
    r"depends? on|think about)\b",
    re.IGNORECASE,
)
_BRAND_INTRO: Final = re.compile(r"品牌|推荐|款|几家|厂商")
_BRAND_LATIN: Final = re.compile(
    r"\b(?:brands?|picks?|options|providers?|makers?|shortlist)\b", re.IGNORECASE
)
# Every character an IGNORECASE Latin letter matches (K is the Kelvin sign, ſ the long s): an
# intro with none of them, as most Chinese ones, cannot match the Latin words, which are not
# then sought at every position.
_LATIN_LETTER: Final = re.compile("[A-Za-z\u0130\u0131\u017f\u212a]")


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    heads: frozenset[str]
    words: frozenset[str]
    cjk_terms: tuple[str, ...]
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]
    model_words: frozenset[str]
    category_suffixes: tuple[str, ...]
    entity_columns: frozenset[str]
    attribute_columns: frozenset[str]


@lru_cache(maxsize=1)
def vocabulary() -> _Vocabulary:
    data = json.loads(STOPLIST.read_text(encoding="utf-8"))

    def norm(key: str) -> list[str]:
        return [normalize(word) for word in data[key]]

    return _Vocabulary(
        heads=frozenset(norm("heads")),
        words=frozenset(norm("words")),
        cjk_terms=tuple(norm("cjk_terms")),
        prefixes=tuple(norm("prefixes")),
        suffixes=tuple(norm("suffixes")),
        model_words=frozenset(norm("model_words")),
        # longest first, so 扫地机器人 is stripped before 机器人
        category_suffixes=tuple(sorted(norm("category_suffixes"), key=len, reverse=True)),
        entity_columns=frozenset(norm("entity_columns")),
        attribute_columns=frozenset(norm("attribute_columns")),
    )


class Head(NamedTuple):  # a tuple, not a frozen dataclass: one per item of every answer
    """One list-item or table-row head: the name as written, its rank, the line it heads."""

    name: str
    rank: int
    line: str


# Head(...) runs NamedTuple's Python-level __new__ (and a frozen dataclass's __init__ was a
# Python frame too, as mypyc leaves frozen dataclasses to `dataclasses`); tuple.__new__ builds
# the same tuple in C, as mentions._new_mention does.
_new_head = tuple.__new__


def _has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def _nfkc_lines(text: str) -> list[str]:
    """NFKC of each of text's lines, without CPython's NFKC on the lines that are already.

    Full-width punctuation is first replaced by its one-character compatibility decomposition
    (as text.normalize does), which leaves NFKC unchanged and maps no character to or from a
    line boundary, so the lines stay those of `text`; most are then NFKC already. A line
    boundary has no decomposition and composes with nothing, so NFKC works on each side of it
    alone: when the whole text is NFKC, so is every line, and one check does for them all.
    """
    for char, ascii_char in _FULL_WIDTH:
        if char in text:
            text = text.replace(char, ascii_char)
    if unicodedata.is_normalized("NFKC", text):
        return text.splitlines()
    return [
        line if unicodedata.is_normalized("NFKC", line) else unicodedata.normalize("NFKC", line)
        for line in text.splitlines()
    ]


# Cached: it cleans heads and table cells, which come back in answer after answer ("优点",
# "品牌", a brand's name); bounded, as is_generic's below.
@lru_cache(maxsize=4096)
def _clean(text: str) -> str:
    text = text.replace("**", "").replace("__", "").replace("`", "").strip()
    text = text.strip(" *_#>：:-–—\u3000")
    if not text.rstrip().endswith((")", "）")):  # no _PAREN: the loop below would only strip
        return text.strip()
    previous = None
    while previous != text:  # "石头科技（Roborock）" -> "石头科技"
        previous, text = text, _PAREN.sub("", text).strip()
    return text


# Cached: the same heads ("优点", "不足", a brand's name) come back in answer after answer of
# one execution. The stop-list is read once per process (vocabulary()), so a name's verdict
# never changes; the bound keeps a long-running process's memory flat.
@lru_cache(maxsize=4096)
def is_generic(name: str) -> bool:
    """A head that names no brand: the stop-list, a sentence, a price, a topic word."""
    vocab = vocabulary()
    key = normalize(name).strip()
    if len(key) < 2 or key in vocab.heads or _SENTENCE.search(key) or _PRICE.search(key):
        return True
    if key.startswith(vocab.prefixes) or key.endswith(vocab.suffixes):
        return True
    if _has_cjk(key):
        cjk = len(_CJK.findall(key))
        return cjk > 10 or any(term in key for term in vocab.cjk_terms)
    words = key.split()
    if len(words) > 4 or len(key) > 32:
        return True
    return all(word.strip("&/+-.'") in vocab.words for word in words)


def _find_separator(text: str) -> re.Match[str] | None:
    """_SEPARATOR.search(text), from the first place a match can open."""
    start = _SEPARATOR_START.search(text)
    return _SEPARATOR.search(text, start.start()) if start else None


def _split_head(rest: str) -> tuple[str, str]:
    """(head, what follows it) of an item's text: the bold or linked lead, else the text up to
    the first separator (：: - –), else the whole text when it is short."""
    rest = rest.strip()
    for pattern in (_BOLD, _LINK) if rest.startswith(("**", "__", "[")) else ():  # their opening
        found = pattern.match(rest)
        if found:
            head, after = found.group("head"), found.group("after")
            inner = _find_separator(head)
            if inner and is_generic(_clean(head[: inner.start()])):  # "**Best overall: X**"
                return head[inner.end() :], after
            return head, after
    separator = _find_separator(rest)
    if separator:
        return rest[: separator.start()], rest[separator.end() :]
    return (rest, "") if len(rest) <= 24 and not _SENTENCE.search(rest) else ("", rest)


def _head_of(rest: str) -> str | None:
    head, after = _split_head(rest)
    name = _clean(head)
    if name and not is_generic(name):
        return name
    # "**首选**：小米" / "Best overall - Roborock S8": a generic label, then the name
    if name and after:
        second, _ = _split_head(_SENTENCE.split(after, maxsplit=1)[0])
        second_name = _clean(second)
        if second_name and len(second_name) <= 24 and not is_generic(second_name):
            return second_name
    return None


def _is_entity_table(header: list[str], brands: Sequence[BrandSpec]) -> bool:
    """A table whose rows are brands: its first header cell names such a column ("品牌",
    "Brand"), or at least is no attribute column ("维度") and no header cell is a tracked
    brand (a table with brands across is a comparison, its first column the criteria)."""
    first = normalize(_clean(header[0]))
    if first in vocabulary().entity_columns:
        return True
    if first in vocabulary().attribute_columns:
        return False
    return not any(find_mentions(normalize(cell), brands) for cell in header[1:])


def _table_heads(rows: list[tuple[str, str]], brands: Sequence[BrandSpec]) -> list[Head]:
    """A brand table's first column, ranked by row; rows are (parsed, original) lines."""
    if len(rows) < 2:
        return []
    header = [cell.strip() for cell in rows[0][0].strip().strip("|").split("|")]
    if not _is_entity_table(header, brands):
        return []
    heads, rank = [], 0
    for line, original in rows[1:]:
        if _TABLE_SEPARATOR.match(line):
            continue
        rank += 1
        name = _clean(line.strip().strip("|").partition("|")[0].strip())
        if name and not is_generic(name):
            heads.append(_new_head(Head, (name, rank, original.strip())))
    return heads


def _lists_criteria(intro: str) -> bool:
    """Whether the list this line introduces lists criteria, not brands."""
    latin = _LATIN_LETTER.search(intro) is not None
    if _CRITERIA_INTRO.search(intro) is None and not (latin and _CRITERIA_LATIN.search(intro)):
        return False
    return _BRAND_INTRO.search(intro) is None and not (latin and _BRAND_LATIN.search(intro))


def list_heads(text: str, brands: Sequence[BrandSpec] = ()) -> list[Head]:
    """The heads of an answer's top-level list items, `#` headers and brand tables, in order.

    Rank: the item's number when numbered, else its place among the consecutive bullets (or
    headers of that depth); a table row's place under its header.
    """
    heads: list[Head] = []
    bullets = 0
    header_counts: dict[int, int] = {}
    intro, list_intro, in_list = "", "", False
    # whether the current list lists criteria: read off its intro at its first item
    criteria: bool | None = None
    table: list[tuple[str, str]] = []
    for original, normalized in zip(
        [*text.splitlines(), ""], [*_nfkc_lines(text), ""], strict=True
    ):
        line = normalized.rstrip()
        first = line.lstrip()[:1]  # "" for a blank line
        if first == "|" and _TABLE.match(line):
            table.append((line, original))
            continue
        if table:
            heads += _table_heads(table, brands)
            table = []
        if first not in _ITEM_STARTS and not first.isdecimal():  # prose, or a blank line
            if first:
                intro, in_list, bullets = line, False, 0  # as below, for a line with no marker
            continue
        numbered = _NUMBERED.match(line) if first in _NUMBERED_STARTS or first.isdecimal() else None
        bullet = _BULLET.match(line) if first in _BULLET_STARTS else None
        header = _HEADER.match(line) if line.startswith("#") else None
        is_item = bool(numbered or bullet)
        if is_item and not in_list:
            list_intro, criteria = intro, None
        in_list = is_item or (in_list and not first)
        if not is_item and first:
            intro = line
        if is_item and criteria is None:
            criteria = _lists_criteria(list_intro)
        # an item of a criteria list gives no head: its head is not even read
        wanted = not (is_item and criteria)
        name, rank = None, 0
        if numbered:
            digits = numbered.group(1) or numbered.group(2)
            rank = int(digits) if digits else _CHINESE_DIGITS.find(numbered.group(3)[0]) + 1
            name, bullets = _head_of(numbered.group("rest")) if wanted else None, 0
        elif bullet:
            bullets += 1
            rank, name = bullets, _head_of(bullet.group("rest")) if wanted else None
        elif header:
            depth = len(header.group("hashes"))
            header_counts[depth] = rank = header_counts.get(depth, 0) + 1
            name, bullets = _head_of(header.group("rest")), 0
        elif first:
            bullets = 0  # prose between bullets ends their run
        if name:
            heads.append(_new_head(Head, (name, rank, original.strip())))
    return heads


# Cached for the reason is_generic is: an execution's answers name the same brands and models.
@lru_cache(maxsize=4096)
def _strip_model(name: str) -> str:
    """"Roborock S8 Pro Ultra" -> "Roborock"; "石头G20" -> "石头"; "科沃斯机器人" -> "科沃斯"."""
    vocab = vocabulary()
    if _has_cjk(name):
        stem = _MODEL_TAIL.sub("", name).strip() or name
        for suffix in vocab.category_suffixes:
            if stem.lower().endswith(suffix) and len(stem) - len(suffix) >= 2:
                return stem[: -len(suffix)]
        return stem
    words = name.split()
    while len(words) > 1:
        last = words[-1].casefold()
        model_like = (
            any(ch.isdigit() for ch in last) or last in vocab.model_words or len(last) == 1
        )
        if not model_like:
            break
        words.pop()
    return " ".join(words)


@dataclass(slots=True)
class _Tally:
    name: str
    example: str
    answers: int = 0
    ranks: list[int] = field(default_factory=list)


def _example(line: str) -> str:
    text = " ".join(line.replace("**", "").replace("__", "").split())
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def _homes(keys: set[str]) -> dict[str, str]:
    """Each candidate key -> the shortest candidate it extends at a word boundary: a brand's
    model ("tesla model", "小鹏 g6") counts for the brand ("tesla", "小鹏")."""
    homes: dict[str, str] = {}
    roots: list[str] = []
    for key in sorted(keys, key=lambda k: (len(k), k)):
        home = next(
            (r for r in roots if key.startswith(r + " ") or (_has_cjk(r) and key.startswith(r))),
            None,
        )
        if home is None:
            roots.append(key)
        homes[key] = home or key
    return homes


def _candidate(head: str, brands: tuple[BrandSpec, ...]) -> tuple[str, str] | None:
    """(name, key) of the brand a head names, its model stripped; None for a tracked brand (or
    its model), which is no discovery, and for a generic name."""
    if find_mentions(normalize(head), brands):
        return None
    name = _strip_model(head)
    return None if is_generic(name) else (name, normalize(name))


# _candidate's verdicts are kept for the reason is_generic's are: each answer of an execution
# (analysed one by one, in a worker) heads its items with the same names, the tracked brands'
# most of all. One memo per brand list, found once per answer: an lru_cache keyed by (head,
# brands) hashed the brand tuple for every head, and BrandSpec's hash is a Python-level frame
# per brand (a dataclass's). Bounded as the caches above: cleared when full.
_MEMO_MAX: Final = 4096


@lru_cache(maxsize=64)
def _memo(brands: tuple[BrandSpec, ...]) -> dict[str, tuple[str, str] | None]:
    return {}


def answer_discoveries(text: str, brands: Sequence[BrandSpec]) -> list[dict[str, object]]:
    """The candidates one answer heads items or rows with, in order: [{name, rank, example}],
    one per candidate (its first head), the model stripped from `name` and `example` the line
    it heads. What discover_brands tallies across answers: analyze_answer stores it with each
    answer's analysis (`discovered`), so a report counts the stored lists and never reads the
    answers again (issue 13: that was ~0.2 ms per 3000-character answer in the server)."""
    found: dict[str, dict[str, object]] = {}
    tracked = tuple(brands)
    memo = _memo(tracked)
    for head in list_heads(text, brands):
        if head.name in memo:
            candidate = memo[head.name]
        else:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            candidate = memo[head.name] = _candidate(head.name, tracked)
        if candidate is not None and candidate[1] not in found:
            name, key = candidate
            found[key] = {"name": name, "rank": head.rank, "example": _example(head.line)}
    return list(found.values())


def discover_brands(
    answers: Sequence[str], brands: Sequence[BrandSpec], *, top_n: int = TOP_N
) -> list[dict[str, object]]:
    """[{name, mentions, mention_rate, avg_rank, example}] over `answers` (the ok answers the
    brands' mention rate is measured on): most answers first, then best average rank."""
    return tally_discoveries([answer_discoveries(text or "", brands) for text in answers],
                             top_n=top_n)


def tally_discoveries(
    per_answer: Sequence[Sequence[Mapping[str, object]]], *, top_n: int = TOP_N
) -> list[dict[str, object]]:
    """discover_brands over each answer's answer_discoveries (stored or just made)."""
    found_of: list[dict[str, tuple[int, str]]] = []  # per answer: key -> (rank, example)
    names: dict[str, str] = {}  # key -> the first spelling seen
    for found in per_answer:
        heads: dict[str, tuple[int, str]] = {}
        for item in found:
            name = str(item["name"])
            key = normalize(name)
            rank = item["rank"]
            heads.setdefault(key, (rank if isinstance(rank, int) else 0, str(item["example"])))
            names.setdefault(key, name)
        found_of.append(heads)
    homes = _homes(set(names))
    tallies: dict[str, _Tally] = {}
    for heads in found_of:
        counted: set[str] = set()
        for key, (rank, example) in heads.items():
            home = homes[key]
            if home in counted:  # "Tesla" and "Tesla Model Y" in one answer: one answer
                continue
            counted.add(home)
            tally = tallies.get(home)
            if tally is None:  # the example is the first answer's line
                tally = tallies[home] = _Tally(names[home], example)
            tally.answers += 1
            tally.ranks.append(rank)
    total = len(per_answer)
    ranked = sorted(
        tallies.values(),
        key=lambda t: (-t.answers, sum(t.ranks) / len(t.ranks), normalize(t.name)),
    )
    return [
        {
            "name": t.name,
            "mentions": t.answers,
            "mention_rate": round(t.answers / total, RATE_DIGITS) if total else 0.0,
            "avg_rank": round(sum(t.ranks) / len(t.ranks), RATE_DIGITS),
            "example": t.example,
        }
        for t in ranked[:top_n]
    ]
