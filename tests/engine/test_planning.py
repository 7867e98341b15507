"""Task expansion (SPEC 3): `{brand}` per brand, platforms x samples, duplicates asked once."""

from diagnosis.engine.planning import plan_tasks, task_key


def test_brand_templates_expand_once_per_brand_and_open_questions_once() -> None:
    tasks = plan_tasks(
        templates=["推荐几个品牌", "{brand}怎么样"],
        brands=["蔚来", "理想"],
        platforms=["a", "b"],
        samples=2,
    )
    assert len(tasks) == (1 + 2) * 2 * 2
    subjects = {t.question: t.subject for t in tasks}
    assert subjects == {"推荐几个品牌": None, "蔚来怎么样": "蔚来", "理想怎么样": "理想"}
    assert [t.ordinal for t in tasks] == list(range(len(tasks)))


def test_identical_questions_after_expansion_are_one_task() -> None:
    tasks = plan_tasks(
        templates=["{brand}怎么样", "蔚来怎么样"], brands=["蔚来"], platforms=["a"], samples=1
    )
    assert [t.question for t in tasks] == ["蔚来怎么样"]


def test_task_keys_are_stable_and_distinct_per_part() -> None:
    assert task_key("q", "a", 0) == task_key("q", "a", 0)
    assert (
        len(
            {
                task_key("q", "a", 0),
                task_key("q", "b", 0),
                task_key("q", "a", 1),
                task_key("q2", "a", 0),
            }
        )
        == 4
    )
