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


def test_brand_name_is_a_synonym_of_brand_and_keeps_brand_questions_keys() -> None:
    # given the mini-program's `{brandName}` default next to a `{brand}` question
    tasks = plan_tasks(
        templates=["{brandName}的核心竞争优势是什么？", "{brand}怎么样", "{brandName}怎么样"],
        brands=["蔚来", "理想"],
        platforms=["a"],
        samples=1,
    )
    # then `{brandName}` expands per brand like `{brand}`, never asked literally
    assert [(t.question, t.subject) for t in tasks] == [
        ("蔚来的核心竞争优势是什么？", "蔚来"), ("理想的核心竞争优势是什么？", "理想"),
        ("蔚来怎么样", "蔚来"), ("理想怎么样", "理想"),
    ]
    # its template is the canonical `{brand}` form, so the report sees a templated question
    assert tasks[0].template == "{brand}的核心竞争优势是什么？"
    # and a `{brand}` question's task_key is what it always was
    assert tasks[2].task_key == task_key("蔚来怎么样", "a", 0)
