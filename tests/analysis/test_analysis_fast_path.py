"""The analysis hot path's shortcuts give exactly what the plain definitions give (issue 13).

Each shortcut (normalisation without CPython's NFKC on every character, the Chinese scorer without
break tokens, patterns respelt for the regex engine's skip-ahead, no score where a cue decides) is
checked against the definition it replaces, on inputs chosen to break it; no timings here.
"""

import random
import re
import unicodedata
from collections.abc import Sequence

import pytest
from bench.answers import long_answer
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis.analysis import (
    BrandSpec,
    analyze_answer,
    lexicon,
    passages,
    sentiment,
    sources,
    stance,
)
from diagnosis.analysis import text as layout_text
from diagnosis.analysis.text import _FULL_WIDTH, normalize

TRICKY = [
    "",
    "ＮＩＯ （1） １. 蔚来，理想：小鹏；好！吗？",
    "！\u0301 ，\u0308 \u3000\u0301 Ａ\u030a e\u0301 ﬁ ß İ Ǆ ½ ㈱ ℡ …",
    "\u1100\u1161\u11a8 가\u11a8 각",  # Hangul jamo compose across the replaced characters
    "（\u1161）\uff0c\u0338 <\u0338 =\u0338",
    "\u0915\u093c \u0b47\u0b3e \u0b47，\u0b56",
    "\ufeff\u200b\u00a0\u2026\u2014“”‘’•",
]


def test_normalize_is_nfkc_then_casefold_on_tricky_text() -> None:
    for text in TRICKY:
        assert normalize(text) == unicodedata.normalize("NFKC", text).casefold(), repr(text)


def test_normalize_is_nfkc_then_casefold_on_random_mixtures() -> None:
    # given an alphabet of full-width punctuation, combining marks, jamo and plain text
    alphabet = [char for char, _ in _FULL_WIDTH] + list(
        "a1 A,蔚来理想。\n\t\u0301\u0308\u0338\u302a\u3099\u1161\u11a8가ＮＩＯ①ﬁß…"
    )
    rng = random.Random(13)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12)))
        # then the shortcut agrees with the definition
        assert normalize(text) == unicodedata.normalize("NFKC", text).casefold(), repr(text)


def test_each_full_width_replacement_is_its_compatibility_decomposition() -> None:
    for char, replacement in _FULL_WIDTH:
        assert replacement == unicodedata.normalize("NFKD", char)
        assert len(replacement) == 1 and replacement.isascii()


def _reference_score_chinese(text: str) -> float:
    """score_chinese as first written: every token, breaks included, through one clause state."""
    text = sentiment._without_degree_adverbs(text)
    total, negator, used, reach, conceded, quality = 0.0, None, False, -1, False, None

    def close() -> float:
        nonlocal negator, used, reach, conceded, quality
        unused = negator in lexicon.ZH_SELF_NEGATIVE_NEGATORS and not used
        negator, used, reach, conceded, quality = None, False, -1, False, None
        return -1.0 if unused else 0.0

    for start, end, kind, weight in sentiment._zh_tokens(text):
        if kind == "break":
            total += close()
        elif kind == "negator":
            total += close() if negator and not used else 0.0
            negator, used, reach = text[start:end], False, end + sentiment._NEGATION_REACH_ZH
        elif kind == "concession":
            conceded = True
        elif kind == "word":
            if text[start:end] in lexicon.ZH_QUALITY_VERDICTS and quality:
                if start - quality[0] <= sentiment._VERDICT_GAP:
                    total -= quality[1]
            if negator and start <= reach:
                weight = sentiment._negated(weight)
                used, reach = True, end + sentiment._NEGATION_REACH_ZH
            else:
                negator = None
            weight *= 0.5 if conceded else 1.0
            total += weight
            quality = (end, weight) if weight > 0 else None
    return total + close()


_ZH_PIECES = st.one_of(
    st.sampled_from(sorted(sentiment._ZH_TABLE)),
    st.sampled_from(sorted(lexicon.ZH_SELF_NEGATIVE_NEGATORS | lexicon.ZH_QUALITY_VERDICTS)),
    st.sampled_from(lexicon.ZH_DEGREE_ADVERBS),
    st.sampled_from(lexicon.ZH_CONTRASTS + lexicon.ZH_CONCESSIONS),
    st.sampled_from(sorted(lexicon.ZH_NEGATORS)),
    st.sampled_from(["，", "。", " ", "ab", "x1", "!!", "续航", "空间", "它", "\n"]),
)


@settings(max_examples=800, deadline=None)
@given(st.lists(_ZH_PIECES, max_size=14).map("".join))
def test_chinese_score_skips_break_tokens_without_changing_the_score(text: str) -> None:
    assert sentiment.score_chinese(text) == _reference_score_chinese(text)


def test_a_line_tries_every_marker_form_its_first_character_can_open() -> None:
    # given every character of the BMP in front of what would complete each marker form
    # when a marker pattern matches there, then classify tries that form for such a line
    for code in range(0x10000):
        char = chr(code)
        tried = layout_text.marker_forms(char)
        assert [form for form in layout_text._MARKERS if form in tried] == list(tried)
        for form in layout_text._MARKERS:
            if form in tried:
                continue
            for rest in ("、x", ". x", ") x", " x", "1) x", "二、x"):
                assert form[1].match(char + rest) is None, (hex(code), form[1].pattern)


# The splitting patterns as first written; their rewrites open with literals or a character
# class (text.latin_words) and must find the same spans, also inside a [pos, endpos) window.
_FIRST_WRITTEN = [
    (passages._SENTENCE_END, r"[。!?\n]+|\.(?=\s|$|[\u4e00-\u9fff])"),
    (passages._CLAUSE_PUNCTUATION, r"[,;。!?\n]+|\.(?=\s|$)"),
    (
        passages._CLAUSE_WORD,
        r"但是|但|然而|不过|可是|反而|(?<![从因反进然])而(?![且言是])"
        r"|\b(?:but|while|whereas|however|although|though)\b",
    ),
    (
        stance._CONTRAST_INSIDE,
        r"(?:但是|但|不过|然而|可是|可惜|反而)|\b(?:but|however|yet|though|although|whereas)\b",
    ),
]
_SPLIT_PIECES = st.one_of(
    st.sampled_from(list("。!?\n.,; a1_é蔚从因反进然且言是而但不过可惜")),
    st.sampled_from(["but", "while", "whereas", "however", "although", "though", "yet", "ut"]),
    st.sampled_from(["但是", "然而", "不过", "可是", "反而", "而且", "xbut", "but1", "a.b", ". "]),
)


@settings(max_examples=800, deadline=None)
@given(st.lists(_SPLIT_PIECES, max_size=16).map("".join), st.integers(0, 40), st.integers(0, 60))
def test_rewritten_splitting_patterns_find_what_the_first_written_ones_found(
    text: str, pos: int, endpos: int
) -> None:
    for pattern, first_written in _FIRST_WRITTEN:
        expected = re.compile(first_written)
        for args in ((), (pos, endpos)):
            assert [m.span() for m in pattern.finditer(text, *args)] == [
                m.span() for m in expected.finditer(text, *args)
            ], (first_written, text, args)


_CUE_PIECES = st.one_of(
    st.sampled_from(
        ["avoid", "recommend", "recommended", "best pick", "go with", "consider", "an option",
         "otherwise", "only if", "worth it only", "can't recommend", "would not recommend",
         "the phone to get", "i'd pick", "hard to recommend", "safest choice", "pass on"]
    ),
    st.sampled_from(list(" ,.'’-_1a蔚来很好xé")),
    st.sampled_from(["not ", "the ", "x", "3", "推荐", "it "]),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_CUE_PIECES, max_size=14).map("".join))
def test_english_cues_tried_at_letter_runs_are_what_the_full_scan_finds(text: str) -> None:
    assert stance._CUES_OPEN_WITH_LETTER  # else the shortcut is off and this proves nothing
    found = [(m.span(), m.groupdict()) for m in stance._en_cue_matches(text)]
    assert found == [(m.span(), m.groupdict()) for m in stance._EN_CUE.finditer(text)]


def test_a_passage_whose_cue_decides_the_stance_is_never_scored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a brand recommended outright and one only hedged
    scored: list[str] = []
    real = stance.weighted_scores

    def counting(
        passages: Sequence[str], memo: stance.SentenceMemo | None = None
    ) -> list[tuple[float, bool]]:
        scored.extend(passages)
        return real(passages, memo)

    monkeypatch.setattr(stance, "weighted_scores", counting)
    # when each is judged
    decided = stance.verdict_of(["强烈推荐蔚来，服务很好。"])
    hedged = stance.verdict_of(["也可以考虑理想，空间大。"])
    # then only the hedged one needed its score
    assert (decided.stance, hedged.stance) == ("recommended", "alternative")
    assert scored == ["也可以考虑理想，空间大。"]


def test_each_brand_gets_the_same_result_whatever_the_order_of_the_brand_list() -> None:
    brands = [BrandSpec("蔚来", ("NIO",), is_own=True), BrandSpec("理想"), BrandSpec("小鹏"),
              BrandSpec("比亚迪"), BrandSpec("特斯拉", ("tesla",))]
    text = long_answer(3000)
    forward = analyze_answer(text, brands)["mentions"]
    backward = analyze_answer(text, brands[::-1])["mentions"]
    # rank by first mention depends only on the text; tone, stance and count per brand too
    assert forward == backward


_URL_PIECES = st.one_of(
    st.sampled_from(["https://", "http://", "HTTPS://", "hTtp://", "httpſ://", "[官网](",
                     "[a [b] c](", "](", "://", "h://", "ttps://"]),
    st.sampled_from(["www.nio.com", "x.cn/a_(b)", "a.b/c?d=1", " \"title\"", "<", ">", "h", "H"]),
    st.sampled_from(list(" \n[]()，。蔚来:/.hH\"'")),
)


@settings(max_examples=800, deadline=None)
@given(st.lists(_URL_PIECES, max_size=14).map("".join))
def test_urls_tried_where_they_can_open_are_what_the_full_scan_finds(text: str) -> None:
    found = [(m.span(), m.groupdict()) for m in sources._url_matches(text)]
    assert found == [(m.span(), m.groupdict()) for m in sources._URL.finditer(text)]


def test_no_other_character_opens_a_url() -> None:
    for code in range(0x10000):
        char = chr(code)
        if char not in "[hH":
            assert sources._URL.match(char + "ttps://x.com") is None, hex(code)
            assert sources._URL.match(char + "https://x.com") is None, hex(code)
