"""Where each mentioned brand ranks: its list item's index, else its order of first mention.

Works on a parsed `Layout` and the mentions found in the same normalised text; must never
do I/O or look at tone.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Final, final

from diagnosis.analysis.mentions import Mention
from diagnosis.analysis.text import ItemList, Layout, ListItem, Value


@final
class ItemHit(Value):
    """The list item that ranks a mention: its 1-based index and its span (for tone).

    Immutable, compared and hashed by value, like the frozen dataclass it was; written out
    because mypyc builds such a class in ~40 ns and a frozen dataclass, through the Python
    `__init__` dataclasses generates (`object.__setattr__` per field), in ~500 ns, and the
    ranks and passages ask for one per mention of every answer (BENCHMARKS.md, issue 13).
    """

    __slots__ = ("end", "index", "start")

    def __init__(self, index: int, start: int, end: int) -> None:
        self.index: Final = index
        self.start: Final = start
        self.end: Final = end

    def fields(self) -> tuple[int, int, int]:
        return (self.index, self.start, self.end)

    def __repr__(self) -> str:
        return f"ItemHit(index={self.index}, start={self.start}, end={self.end})"


class ItemLocator:
    """Finds the item that ranks a mention, in O(log n) per mention after O(n) set-up.

    Items of one list are in text order, so the item holding a position is found by bisection;
    whether a list is a list of categories (none of its items names a brand on its own line)
    is computed once per list.
    """

    def __init__(self, layout: Layout, mentions: Sequence[Mention]) -> None:
        self.lists = layout.lists
        self.mention_starts = sorted(m.start for m in mentions)
        # Keyed by the list itself (compared by identity: an ItemList defines no equality),
        # and each mention's item kept: the ranks and the passages both ask for it.
        self._starts: dict[ItemList, list[int]] = {}
        self._list_starts: dict[int, list[int]] = {}
        self._category: dict[ItemList, bool] = {}
        self._hits: dict[Mention, ItemHit | None] = {}

    def _names_a_brand(self, item: ListItem) -> bool:
        at = bisect_left(self.mention_starts, item.start)
        return at < len(self.mention_starts) and self.mention_starts[at] < item.head_end

    def _is_category_list(self, items: ItemList) -> bool:
        category = self._category.get(items)
        if category is None:
            category = self._category[items] = not any(
                self._names_a_brand(item) for item in items.items
            )
        return category

    def _item_at(self, items: ItemList, position: int) -> tuple[int, ListItem] | None:
        starts = self._starts.get(items)
        if starts is None:
            starts = self._starts[items] = [item.start for item in items.items]
        index = bisect_right(starts, position) - 1
        if index < 0:
            return None
        item = items.items[index]
        return (index + 1, item) if position < max(item.end, item.start + 1) else None

    def _list_at(self, lists: list[ItemList], position: int) -> ItemList | None:
        """The one list of `lists` that can hold `position`: sibling lists follow each other in
        the text without overlapping, so it is the last one starting at or before it (found
        by bisection: an answer of thousands of one-item lists must not cost lists x mentions)."""
        key = id(lists)
        starts = self._list_starts.get(key)
        if starts is None:
            starts = self._list_starts[key] = [lst.items[0].start if lst.items else -1
                                               for lst in lists]
        index = bisect_right(starts, position) - 1
        return lists[index] if index >= 0 else None

    def locate(self, mention: Mention) -> ItemHit | None:
        """The item that ranks this mention, or None when it is outside every list.

        The outermost list wins (nested lines belong to their parent item), except that a
        list of categories whose items name no brand themselves hands over to its sub-list.
        """
        if mention in self._hits:
            return self._hits[mention]
        hit = self._hits[mention] = self._locate(mention)
        return hit

    def _locate(self, mention: Mention) -> ItemHit | None:
        """Down the chain of items that contain the mention, from the outermost list, stopping
        at the first list that is no list of categories (the chain below it cannot change the
        answer); the innermost item when every list on the way is one."""
        position = mention.start
        candidates = self.lists
        innermost: ItemHit | None = None
        while candidates:
            item_list = self._list_at(candidates, position)
            found = self._item_at(item_list, position) if item_list is not None else None
            if found is None or item_list is None:
                break
            index, item = found
            innermost = ItemHit(index, item.start, item.end)
            if not self._is_category_list(item_list):
                return innermost
            candidates = item.children
        return innermost


def locate_item(layout: Layout, mention: Mention, mentions: Sequence[Mention]) -> ItemHit | None:
    """The item that ranks this mention (one-off; use an `ItemLocator` for many mentions)."""
    return ItemLocator(layout, mentions).locate(mention)


def assign_ranks(
    layout: Layout, mentions: Sequence[Mention], brand_count: int,
    locator: ItemLocator | None = None,
) -> dict[int, int]:
    """Rank per mentioned brand index: the index of its first list item, else its place in
    the order of first mention among all brands found. `locator`: the answer's, if it has one
    already (for these `layout` and `mentions`)."""
    first_seen: dict[int, None] = {}
    list_rank: dict[int, int] = {}
    locator = locator or ItemLocator(layout, mentions)
    for mention in mentions:
        first_seen.setdefault(mention.brand)
        if mention.brand in list_rank:
            continue
        hit = locator.locate(mention)
        if hit is not None:
            list_rank[mention.brand] = hit.index
    return {
        brand: list_rank.get(brand, order)
        for order, brand in enumerate(first_seen, start=1)
        if 0 <= brand < brand_count
    }
