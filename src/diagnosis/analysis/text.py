"""The layout of an answer: normalisation, then lists, list items, table rows and prose.

Pure text processing on the normalised answer (character offsets refer to `normalize(text)`);
it knows nothing about brands or sentiment and must never do I/O.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal, final

LineKind = Literal["item", "heading", "table", "rule", "text"]

_CJK_DIGITS: Final = {
    "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9
}

# Marker forms, from the outermost to the innermost list level (Chinese documents nest
# 一、 > （一） > 1. > （1）; bullets are the innermost). Applied after NFKC, so （1） is (1).
_MARKERS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(r"([一二三四五六七八九十]{1,3})[、.]\s*")),
    (2, re.compile(r"\(([一二三四五六七八九十]{1,3})\)\s*")),
    (3, re.compile(r"(\d{1,3})(?:\.(?!\d)|\)|、)\s*")),
    (4, re.compile(r"\((\d{1,3})\)\s*")),
    (5, re.compile(r"(?:[-*+]\s+|[•·●▪◦]\s*)")),
)
BULLET_LEVEL: Final = 5
# The marker forms a line's first character can open (digits: \d, the third form only); a line
# opening with another character is text, and a bullet line tries one form, not five.
_MARKERS_BY_START: dict[str, tuple[tuple[int, re.Pattern[str]], ...]] = {
    **{char: (_MARKERS[0],) for char in "一二三四五六七八九十"},
    "(": (_MARKERS[1], _MARKERS[3]),
    **{char: (_MARKERS[4],) for char in "-*+•·●▪◦"},
}


def marker_forms(first: str) -> tuple[tuple[int, re.Pattern[str]], ...]:
    """The (level, pattern) marker forms a line opening with `first` can match, in order."""
    forms = _MARKERS_BY_START.get(first)
    if forms is None:
        return (_MARKERS[2],) if first.isdigit() else ()
    return forms
_HEADER: Final = re.compile(r"(#{1,6})\s+")
_RULE: Final = re.compile(r"([-*_])(?:\s*\1){2,}\s*")
_TABLE_SEPARATOR: Final = re.compile(r"\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?")
_EMPHASIS: Final = re.compile(r"(?:\*\*|__)")
# A paragraph opening with one of these is a verdict on what came before, never a list item's
# continuation (models often end a list with "总的来说，..." with no blank line before it).
_VERDICT_OPENERS: Final = re.compile(
    r"(?:总的来说|总而言之|总体来说|总体而言|整体来看|综上|总之|总结|最后|结论|建议|"
    r"overall|in summary|in conclusion|to sum up|to summari[sz]e|all in all|in short|"
    r"ultimately|bottom line)"
)


# Full-width punctuation and the ideographic space: what keeps most Chinese answers from being
# NFKC already. Each is replaced by its compatibility decomposition (one ASCII character) with
# str.replace, which leaves the string's NFKC unchanged; the rest is then usually normalised
# already, which the C quick check confirms without CPython's ~100 ns a character of NFKC.
_FULL_WIDTH: Final = tuple(
    (char, unicodedata.normalize("NFKD", char))
    for char in (*map(chr, range(0xFF01, 0xFF5F)), "\u3000")
    if not char.isalnum()
)


def matches(pattern: re.Pattern[str], text: str, start: int, end: int) -> list[re.Match[str]]:
    """`list(pattern.finditer(text, start, end))` from one `search` per match and one more: no
    iterator set up (finditer's costs as much as a search, and most clauses hold no match). An
    empty match hands over to finditer, whose rule for those this does not copy."""
    found = pattern.search(text, start, end)
    found_all: list[re.Match[str]] = []
    while found is not None:
        at = found.end()
        if at == found.start():
            return list(pattern.finditer(text, start, end))
        found_all.append(found)
        found = pattern.search(text, at, end)
    return found_all


def latin_words(*words: str) -> str:
    """A regex alternation of whole Latin words (`\\bbut\\b|...`), each spelt to open with its
    first letter, `b(?<!\\wb)ut\\b`: a leading `\\b` hides from the engine which characters a
    match can start with, and it then tries every alternative at every position (~5x slower on
    a Chinese answer). The lookbehind after the letter is the same boundary."""
    return "|".join(f"{word[0]}(?<!\\w{word[0]}){word[1:]}\\b" for word in words)


def normalize(text: str) -> str:
    """NFKC then casefold: ＮＩＯ is nio, （1） is (1), full-width commas are ASCII commas."""
    for char, ascii_char in _FULL_WIDTH:
        if char in text:
            text = text.replace(char, ascii_char)
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    return text.casefold()


def _cjk_number(token: str) -> int:
    if token.isdigit():
        return int(token)
    if token.startswith("十"):
        return 10 + _CJK_DIGITS.get(token[1:], 0)
    if "十" in token:
        tens, _, ones = token.partition("十")
        return _CJK_DIGITS.get(tens, 0) * 10 + _CJK_DIGITS.get(ones, 0)
    return _CJK_DIGITS.get(token, 0)


class Value:
    """Equal and hashed by `fields()`: the base of the analysis's small immutable classes (Line,
    rank.ItemHit, stance.Verdict). They are written out rather than frozen dataclasses for what
    building one costs compiled (rank.ItemHit says how much)."""

    __slots__ = ()

    def fields(self) -> tuple[object, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Value) and type(other) is type(self)
                and self.fields() == other.fields())

    def __hash__(self) -> int:
        return hash(self.fields())


_NO_LEVEL: Final = (9, 9)


@final
class Line(Value):
    """One classified line: its span, indentation and, for an item, its list level.

    Immutable and compared by value, as the NamedTuple it was; a class of its own because the
    classifier builds one per line of every answer, which mypyc does in ~40 ns (fields unboxed)
    against ~225 ns for a NamedTuple by `tuple.__new__` (rank.ItemHit says more)."""

    __slots__ = ("end", "hashes", "indent", "kind", "level", "number", "start")

    def __init__(
        self, start: int, end: int, kind: LineKind, indent: int = 0,
        level: tuple[int, int] = _NO_LEVEL,  # (0, hashes) for "### 1." headers, else (1, level)
        number: int | None = None, hashes: int = 0,  # hashes: for headings
    ) -> None:
        self.start: Final = start
        self.end: Final = end
        self.kind: Final = kind
        self.indent: Final = indent
        self.level: Final = level
        self.number: Final = number
        self.hashes: Final = hashes

    def fields(self) -> tuple[int, int, LineKind, int, tuple[int, int], int | None, int]:
        return (self.start, self.end, self.kind, self.indent, self.level, self.number,
                self.hashes)

    def __repr__(self) -> str:
        return ("Line(start={}, end={}, kind={!r}, indent={}, level={}, number={}, "
                "hashes={})").format(*self.fields())


def classify(text: str, start: int, end: int) -> Line:
    """Classify the line text[start:end] (no newline)."""
    return _classify(text[start:end], start, end)


def _classify(raw: str, start: int, end: int) -> Line:
    """`classify` of a line already sliced out: raw is text[start:end]."""
    expanded = raw.replace("\t", "    ") if "\t" in raw else raw
    body = expanded.lstrip(" \u3000")
    indent = len(expanded) - len(body)
    body = body.rstrip()
    if not body:  # whitespace only: a blank line
        return Line(start, end, "rule")
    first = body[0]
    # A table row opens with "|", is a separator row, or holds two or more "|"; each needs one.
    if "|" in body and (
        first == "|" or _TABLE_SEPARATOR.fullmatch(body) or body.count("|") >= 2
    ):
        return Line(start, end, "table", indent)
    header = _HEADER.match(body) if first == "#" else None
    if header:
        hashes = len(header.group(1))
        rest = _EMPHASIS.sub("", body[header.end() :], count=1).lstrip()
        for marker_level, pattern in marker_forms(rest[:1]):  # the forms rest can open
            if marker_level == BULLET_LEVEL:  # a "### - x" heading is no item
                break
            found = pattern.match(rest)
            if found:
                heading_number = _cjk_number(found.group(1))
                return Line(start, end, "item", 0, (0, hashes), heading_number)
        return Line(start, end, "heading", indent, hashes=hashes)
    if first in "-*_" and _RULE.fullmatch(body):
        return Line(start, end, "rule")
    content = body[2:] if body.startswith(("**", "__")) else body
    for marker_level, pattern in marker_forms(content[:1]):  # none for most lines
        found = pattern.match(content)
        if found and found.end() < len(content):
            number = _cjk_number(found.group(1)) if found.groups() else None
            return Line(start, end, "item", indent, (1, marker_level), number)
    return Line(start, end, "text", indent)


def split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    pos = 0
    for chunk in text.splitlines(keepends=True):
        stripped = chunk.rstrip("\r\n")  # text[pos : pos + len(stripped)]: no second slice
        lines.append(_classify(stripped, pos, pos + len(stripped)))
        pos += len(chunk)
    return lines


# The parser's three classes are written out rather than dataclasses: mypyc builds a class of
# its own in ~40 ns and a dataclass, through the Python `__init__` dataclasses generates, in
# ~200 ns, and there is one ListItem per item of every answer (BENCHMARKS.md, issue 13).
class ListItem:
    """A list item: from its marker line to its last continuation or nested line."""

    __slots__ = ("children", "end", "head_end", "start")

    def __init__(self, start: int, head_end: int, end: int,
                 children: list[ItemList] | None = None) -> None:
        self.start = start
        # the end of the marker line: the item's own text, without its nested lines
        self.head_end = head_end
        self.end = end
        self.children: list[ItemList] = [] if children is None else children

    def __repr__(self) -> str:
        return (f"ListItem(start={self.start}, head_end={self.head_end}, end={self.end}, "
                f"children={self.children!r})")


class ItemList:
    __slots__ = ("indent", "items", "last_number", "level")

    def __init__(self, level: tuple[int, int], indent: int, items: list[ListItem] | None = None,
                 last_number: int | None = None) -> None:
        self.level = level
        self.indent = indent
        self.items: list[ListItem] = [] if items is None else items
        self.last_number = last_number

    def __repr__(self) -> str:
        return (f"ItemList(level={self.level}, indent={self.indent}, items={self.items!r}, "
                f"last_number={self.last_number})")


class Layout:
    """Top-level lists (items nest their sub-lists), table rows, and prose line spans."""

    __slots__ = ("lists", "prose", "table_rows")

    def __init__(self, lists: list[ItemList], table_rows: list[tuple[int, int]],
                 prose: list[tuple[int, int]]) -> None:
        self.lists = lists
        self.table_rows = table_rows
        self.prose = prose  # consecutive non-list, non-table lines, one span per paragraph

    def __repr__(self) -> str:
        return (f"Layout(lists={self.lists!r}, table_rows={self.table_rows!r}, "
                f"prose={self.prose!r})")


def _relation(line: Line, top: ItemList) -> Literal["sibling", "child", "above"]:
    if line.level == top.level and (line.level[0] == 0 or abs(line.indent - top.indent) <= 1):
        return "sibling"
    if line.level > top.level or (line.level == top.level and line.indent > top.indent + 1):
        return "child"
    return "above"


class _LayoutBuilder:
    """A stack of open lists, innermost last; see docs/analysis.md for the rules."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.stack: list[ItemList] = []
        self.lists: list[ItemList] = []
        self.tables: list[tuple[int, int]] = []
        self.prose: list[tuple[int, int]] = []
        self.after_blank = False
        self.last_closed: ItemList | None = None

    def pop(self) -> None:
        closed = self.stack.pop()
        if not self.stack:
            self.last_closed = closed

    def close_all(self) -> None:
        while self.stack:
            self.pop()

    def extend_open_items(self, end: int) -> None:
        for open_list in self.stack:
            open_list.items[-1].end = end

    def add_prose(self, line: Line) -> None:
        if self.prose and not self.after_blank and self._prose_is_previous(line):
            self.prose[-1] = (self.prose[-1][0], line.end)
        else:
            self.prose.append((line.start, line.end))

    def _prose_is_previous(self, line: Line) -> bool:
        between = self.text[self.prose[-1][1] : line.start]
        return between.strip() == ""

    def add_item(self, line: Line) -> None:
        while self.stack and _relation(line, self.stack[-1]) == "above":
            self.pop()
        item = ListItem(line.start, line.end, line.end)
        if not self.stack:
            self._start_top_level(line, item)
            return
        top = self.stack[-1]
        relation = _relation(line, top)
        if relation == "sibling" and not (line.number == 1 and top.items):
            top.items.append(item)
            top.last_number = line.number
        elif relation == "sibling":  # numbering restarts at 1: a new list at the same depth
            self.pop()
            self.last_closed = None
            new = ItemList(line.level, line.indent, [item], line.number)
            if self.stack:
                self.stack[-1].items[-1].children.append(new)
            else:
                self.lists.append(new)
            self.stack.append(new)
        else:
            new = ItemList(line.level, line.indent, [item], line.number)
            top.items[-1].children.append(new)
            self.stack.append(new)
        self.extend_open_items(line.end)

    def _start_top_level(self, line: Line, item: ListItem) -> None:
        previous = self.last_closed
        resumes = (
            previous is not None
            and previous.level == line.level
            and line.number is not None
            and previous.last_number is not None
            and line.number == previous.last_number + 1
        )
        if resumes and previous is not None:  # "3." after an interruption continues the list
            previous.items.append(item)
            previous.last_number = line.number
            self.stack.append(previous)
            return
        new = ItemList(line.level, line.indent, [item], line.number)
        self.lists.append(new)
        self.stack.append(new)

    def add_heading(self, line: Line) -> None:
        while self.stack and not (
            self.stack[-1].level[0] == 0 and self.stack[-1].level[1] < line.hashes
        ):
            self.pop()
        if self.stack:  # a sub-heading inside a "### 1. X" section belongs to it
            self.extend_open_items(line.end)
        else:
            self.close_all()
            self.add_prose(line)

    def add_text(self, line: Line) -> None:
        body = self.text[line.start : line.end].strip(" \u3000*_#>")
        if line.indent == 0 and _VERDICT_OPENERS.match(body):
            self.close_all()
        elif self.after_blank:
            while (
                self.stack and self.stack[-1].level[0] != 0 and line.indent <= self.stack[-1].indent
            ):
                self.pop()
        if self.stack:
            self.extend_open_items(line.end)
        else:
            self.add_prose(line)

    def feed(self, line: Line) -> None:
        if line.kind == "rule":
            self.after_blank = True
            return
        if line.kind == "item":
            self.add_item(line)
        elif line.kind == "heading":
            self.add_heading(line)
        elif line.kind == "table":
            self.close_all()
            self.tables.append((line.start, line.end))
        else:
            self.add_text(line)
        self.after_blank = False


def parse_layout(text: str) -> Layout:
    """Split a normalised answer into lists (with nested sub-lists), table rows and prose."""
    builder = _LayoutBuilder(text)
    for line in split_lines(text):
        builder.feed(line)
    return Layout(builder.lists, builder.tables, builder.prose)
