"""The one-pass matchers (Aho-Corasick automata) find exactly what the regexes they replaced
found: the lexicon's words leftmost-longest, degree adverbs in list order, brands longest-first
over every candidate; and a brand list's automaton is built once, not per answer."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import BrandSpec, analyze_answer, lexicon, mentions, sentiment

_WORDS = sorted(sentiment._ZH_TABLE, key=len, reverse=True)
# The tokenizer the automaton replaced: one alternation, longest word first, or a break run.
_ALTERNATION = re.compile(
    f"(?P<word>{'|'.join(map(re.escape, _WORDS))})|(?P<break>[^\\s{sentiment._CJK}]+)"
)
_DEGREE = re.compile("|".join(lexicon.ZH_DEGREE_ADVERBS))

# Texts built from lexicon words, their prefixes (so longer words fail half-way), degree
# adverbs, punctuation and Latin runs: where a leftmost-longest matcher can go wrong.
_pieces = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from(_WORDS).map(lambda word: word[: max(1, len(word) - 1)]),
    st.sampled_from(lexicon.ZH_DEGREE_ADVERBS),
    st.sampled_from(["，", "。", " ", "ab1", "x", "但"]),
)
_texts = st.lists(_pieces, max_size=12).map("".join)


def test_the_chinese_lexicon_is_cjk_only_so_words_and_breaks_never_overlap() -> None:
    assert [word for word in _WORDS if re.search("[^\u4e00-\u9fff]", word)] == []


@settings(max_examples=400, deadline=None)
@given(_texts)
def test_lexicon_words_are_found_where_the_longest_first_alternation_finds_them(
    text: str,
) -> None:
    expected = [
        (*found.span(), *(("break", 0.0) if found.lastgroup == "break"
                          else sentiment._ZH_TABLE[found.group()]))
        for found in _ALTERNATION.finditer(text)
    ]

    assert sentiment._zh_tokens(text) == expected


@settings(max_examples=400, deadline=None)
@given(_texts)
def test_degree_adverbs_are_dropped_as_the_alternation_dropped_them(text: str) -> None:
    assert sentiment._without_degree_adverbs(text) == _DEGREE.sub("", text)


def test_the_longest_overlapping_brand_name_wins_whichever_starts_first() -> None:
    brands = [BrandSpec("甲乙"), BrandSpec("乙丙丁")]

    found = mentions.find_mentions("看看甲乙丙丁吧，甲乙也行", brands)

    assert [(m.brand, m.start, m.end) for m in found] == [(1, 3, 6), (0, 8, 10)]


def test_a_brand_lists_automaton_is_built_once_for_many_answers() -> None:
    # given a brand list no earlier test used
    brands = [BrandSpec("测试品牌甲", ("brand-a",)), BrandSpec("测试品牌乙")]
    before = mentions._matcher.cache_info().misses

    # when 50 answers are analysed for it
    for i in range(50):
        analyze_answer(f"{i}. 测试品牌甲不错，brand-a 也行；测试品牌乙一般。", brands)

    # then its automaton was built once
    assert mentions._matcher.cache_info().misses - before == 1
