"""Where each mentioned brand ranks: its list item's index, else its order of first mention.

Works on a parsed `Layout` and the mentions found in the same normalised text; must never
do I/O or look at tone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from diagnosis.analysis.mentions import Mention
from diagnosis.analysis.text import ItemList, Layout, ListItem


@dataclass(frozen=True, slots=True)
class ItemHit:
    """The list item that ranks a mention: its 1-based index and its span (for tone)."""

    index: int
    start: int
    end: int


def _names_a_brand(item: ListItem, mentions: Sequence[Mention]) -> bool:
    return any(item.start <= m.start < item.head_end for m in mentions)


def _is_category_list(items: ItemList, mentions: Sequence[Mention]) -> bool:
    """A list none of whose items names a brand on its own line (一、经济型 / 二、豪华型)."""
    return not any(_names_a_brand(item, mentions) for item in items.items)


def _path(lists: Sequence[ItemList], position: int) -> list[tuple[ItemList, int, ListItem]]:
    """The chain of (list, index, item) from the outermost list down to the innermost item
    that contains position."""
    chain: list[tuple[ItemList, int, ListItem]] = []
    candidates = list(lists)
    while candidates:
        for item_list in candidates:
            hit = next(
                (
                    (number, item)
                    for number, item in enumerate(item_list.items, start=1)
                    if item.start <= position < max(item.end, item.start + 1)
                ),
                None,
            )
            if hit:
                chain.append((item_list, hit[0], hit[1]))
                candidates = hit[1].children
                break
        else:
            break
    return chain


def locate_item(layout: Layout, mention: Mention, mentions: Sequence[Mention]) -> ItemHit | None:
    """The item that ranks this mention, or None when it is outside every list.

    The outermost list wins (nested lines belong to their parent item), except that a list of
    categories whose items name no brand themselves hands over to its sub-list.
    """
    chain = _path(layout.lists, mention.start)
    if not chain:
        return None
    for item_list, index, item in chain:
        if not _is_category_list(item_list, mentions):
            return ItemHit(index, item.start, item.end)
    _, index, item = chain[-1]
    return ItemHit(index, item.start, item.end)


def assign_ranks(layout: Layout, mentions: Sequence[Mention], brand_count: int) -> dict[int, int]:
    """Rank per mentioned brand index: the index of its first list item, else its place in
    the order of first mention among all brands found."""
    first_seen: list[int] = []
    list_rank: dict[int, int] = {}
    for mention in mentions:
        if mention.brand not in first_seen:
            first_seen.append(mention.brand)
        if mention.brand in list_rank:
            continue
        hit = locate_item(layout, mention, mentions)
        if hit is not None:
            list_rank[mention.brand] = hit.index
    return {
        brand: list_rank.get(brand, order)
        for order, brand in enumerate(first_seen, start=1)
        if 0 <= brand < brand_count
    }
