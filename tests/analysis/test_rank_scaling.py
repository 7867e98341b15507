"""Rank lookup stays linear on adversarial layouts (issue 14, 2): thousands of one-item lists,
each naming brands, cost a bounded number of item lookups per mention, not lists x mentions."""

from diagnosis.analysis import BrandSpec, analyze_answer, rank

BRANDS = [BrandSpec("蔚来", ("NIO",), is_own=True), BrandSpec("理想", ()), BrandSpec("小鹏", ())]


def item_lookups(text: str, monkeypatch) -> int:
    calls = {"n": 0}
    real = rank.ItemLocator._item_at

    def counting(self, items, position):
        calls["n"] += 1
        return real(self, items, position)

    monkeypatch.setattr(rank.ItemLocator, "_item_at", counting)
    analyze_answer(text, BRANDS)
    return calls["n"]


def test_many_one_item_lists_cost_lookups_in_proportion_to_the_text(monkeypatch):
    line = "1. **蔚来**：不错，但理想更好。小鹏 蔚来。\n"  # each line restarts a numbered list
    small, large = line * 200, line * 400
    lookups_small = item_lookups(small, monkeypatch)
    lookups_large = item_lookups(large, monkeypatch)
    assert lookups_small > 0  # counted: the Python ran (the compiled module cannot be patched)
    # doubling the answer at most doubles the work (quadratic would quadruple it)
    assert lookups_large <= 2 * lookups_small + 10
    # and each mention costs a few lookups, not one per list
    assert lookups_large <= 4 * 400 * 4
