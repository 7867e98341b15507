"""The offline demo platform: deterministic, realistic-looking answers that mention brands unevenly.

Never touches the network; the same (prompt, brands, sample) always gives the same answer, so a
demo report has something to show and tests can rely on it.
"""

import asyncio
import hashlib
import random
import time
from collections.abc import Sequence

from diagnosis.providers.base import ChatRequest, Completion
from diagnosis.providers.config import PlatformConfig

_ZH_POSITIVE = (
    "续航表现出色，日常通勤基本不用焦虑",
    "口碑很好，用户满意度一直靠前",
    "性价比高，同价位里配置很有竞争力",
    "智能化体验领先，语音和辅助驾驶都很成熟",
    "做工扎实，质感不错，值得推荐",
    "售后服务完善，网点覆盖广",
)
_ZH_NEUTRAL = (
    "定位中规中矩，适合预算明确的用户",
    "产品线比较丰富，可以按需求挑选",
    "近两年变化较大，建议到店实际体验",
    "市场表现平稳，关注度中等",
)
_ZH_NEGATIVE = (
    "售后口碑一般，不太推荐",
    "价格偏高，性价比不突出",
    "质量投诉相对较多，需要谨慎考虑",
    "软件更新慢，体验有些落后",
)
# English remarks are predicates: "<brand> has ..." in prose, capitalised in lists.
_EN_POSITIVE = (
    "has excellent range and a very polished driving experience",
    "has a strong reputation and consistently high owner satisfaction",
    "offers great value for money with a generous feature list",
    "leads the industry in software and driver assistance",
)
_EN_NEUTRAL = (
    "is a solid middle-of-the-road choice",
    "has a broad line-up, so it depends on your needs",
    "is worth a test drive before deciding",
)
_EN_NEGATIVE = (
    "has mediocre after-sales service, so I would not recommend it",
    "is priced on the high side for what you get",
    "gets more reliability complaints than average",
)
_SOURCES = (
    "https://www.dongchedi.com/article/{n}",
    "https://www.autohome.com.cn/news/{n}.html",
    "https://zhuanlan.zhihu.com/p/{n}",
    "https://www.36kr.com/p/{n}",
    "https://www.pcauto.com.cn/news/{n}.html",
)
# What a web-grounded demo call "searched" (search = true): the pages come back as API citations,
# some of them also written into the answer, as the assistants' apps do.
_SEARCH_SOURCES = (
    ("https://zhuanlan.zhihu.com/p/{n}", "知乎专栏"),
    ("https://www.xiaohongshu.com/explore/{n}", "小红书笔记"),
    ("https://baike.baidu.com/item/{n}", "百度百科"),
    ("https://item.jd.com/{n}.html", "京东商品"),
    ("https://www.autohome.com.cn/news/{n}.html", "汽车之家"),
    ("https://en.wikipedia.org/wiki/{n}", "Wikipedia"),
    ("https://www.bilibili.com/video/BV{n}", "哔哩哔哩"),
)
_ZH_GENERIC = (
    "这个问题可以从几个方面来看：\n\n"
    "1. **预算**：先确定可以接受的价格区间。\n"
    "2. **使用场景**：日常通勤和长途出行的需求差别很大。\n"
    "3. **口碑与售后**：多看真实用户的长期评价。\n\n"
    "建议结合自己的情况多比较几家，再做决定。"
)
_EN_GENERIC = (
    "It depends on a few things:\n\n"
    "1. **Budget**: decide on a price range first.\n"
    "2. **Use case**: daily commuting and long trips call for different choices.\n"
    "3. **Reputation and service**: read long-term owner reviews.\n\n"
    "Compare a few options before you decide."
)


class DemoProvider:
    def __init__(self, config: PlatformConfig, *, latency_ms: int | None = None) -> None:
        self.platform_id = config.id
        self.config = config
        self._latency_ms = config.demo_latency_ms if latency_ms is None else latency_ms
        self._jitter_ms = config.demo_jitter_ms

    def __repr__(self) -> str:
        return f"DemoProvider(platform_id={self.platform_id!r}, latency_ms={self._latency_ms})"

    async def complete(self, request: ChatRequest) -> Completion:
        started = time.perf_counter()
        rng = _rng(request)
        delay_ms = self.delay_ms(rng)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        text = write_answer(request.prompt, request.brands, rng)
        cited: tuple[dict[str, str], ...] = ()
        if self.config.search:
            text, cited = _searched(text, rng, is_mostly_ascii(request.prompt))
        prompt_tokens = max(1, len(request.prompt) // 2)
        completion_tokens = max(1, len(text) // 2)
        return Completion(
            text=text,
            usage={
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            model=self.config.model or "demo",
            latency_ms=round((time.perf_counter() - started) * 1000),
            citations=cited,
        )

    def delay_ms(self, rng: random.Random) -> int:
        """The configured latency plus a deterministic jitter; 0 latency means no sleep."""
        jitter = rng.randint(-self._jitter_ms, self._jitter_ms)
        if self._latency_ms <= 0:
            return 0
        return max(0, self._latency_ms + jitter)

    async def aclose(self) -> None:
        return None


def _rng(request: ChatRequest) -> random.Random:
    seed_text = "\x1f".join([request.prompt, str(request.sample), *request.brands])
    digest = hashlib.sha256(seed_text.encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def is_mostly_ascii(text: str) -> bool:
    letters = [ch for ch in text if not ch.isspace()]
    return bool(letters) and sum(ch.isascii() for ch in letters) / len(letters) > 0.8


def write_answer(prompt: str, brands: Sequence[str], rng: random.Random) -> str:
    """One answer: a list, headed sections or prose, over a hash-picked subset of the brands."""
    english = is_mostly_ascii(prompt)
    picked = _pick_brands(brands, rng)
    if not picked:
        return _EN_GENERIC if english else _ZH_GENERIC
    remarks = [_remark(rng, english) for _ in picked]
    style = rng.choice(("numbered", "numbered", "headed", "bulleted", "prose"))
    if style == "prose":
        body = _prose(picked, remarks, english, rng)
    else:
        body = _listed(picked, remarks, english, style, rng)
    return body + "\n\n" + _sources(rng, english)


def _pick_brands(brands: Sequence[str], rng: random.Random) -> list[str]:
    """A subset in a shuffled order: the first brand is mentioned most and ranked highest."""
    scored: list[tuple[float, str]] = []
    for index, brand in enumerate(brands):
        if rng.random() < max(0.3, 0.9 - 0.2 * index):
            scored.append((rng.random() + 0.25 * index, brand))
    return [brand for _, brand in sorted(scored)]


def _remark(rng: random.Random, english: bool) -> str:
    roll = rng.random()
    pool: tuple[str, ...]
    if english:
        pool = _EN_POSITIVE if roll < 0.55 else _EN_NEUTRAL if roll < 0.8 else _EN_NEGATIVE
    else:
        pool = _ZH_POSITIVE if roll < 0.55 else _ZH_NEUTRAL if roll < 0.8 else _ZH_NEGATIVE
    return rng.choice(pool)


def _listed(
    brands: list[str], remarks: list[str], english: bool, style: str, rng: random.Random
) -> str:
    intro = (
        "Here are some options worth considering:"
        if english
        else rng.choice(
            ("综合口碑和市场表现，可以参考以下几个选择：", "以下是比较值得关注的几个品牌：")
        )
    )
    lines = [intro, ""]
    separator, end = (": ", ".") if english else ("：", "。")
    for number, (brand, remark) in enumerate(zip(brands, remarks, strict=True), start=1):
        remark = remark[:1].upper() + remark[1:]
        if style == "numbered":
            lines.append(f"{number}. **{brand}**{separator}{remark}{end}")
        elif style == "headed":
            lines += [f"### {number}. {brand}", f"{remark}{end}", ""]
        else:
            lines.append(f"- **{brand}**{separator}{remark}{end}")
    closing = (
        "Overall, it depends on your budget and how you drive."
        if english
        else "总体来看，具体选择还要结合预算和用车需求。"
    )
    return "\n".join([*lines, "", closing]).replace("\n\n\n", "\n\n")


def _prose(brands: list[str], remarks: list[str], english: bool, rng: random.Random) -> str:
    sentences = []
    for brand, remark in zip(brands, remarks, strict=True):
        if english:
            sentences.append(f"{brand} {remark}.")
        else:
            sentences.append(rng.choice((f"{brand}的{remark}。", f"说到{brand}，{remark}。")))
    opening = "It is a competitive market." if english else "这个领域竞争比较激烈。"
    half = max(1, len(sentences) // 2)
    first = (
        " ".join([opening, *sentences[:half]]) if english else opening + "".join(sentences[:half])
    )
    rest = sentences[half:]
    if not rest:
        return first
    return first + "\n\n" + (" ".join(rest) if english else "".join(rest))


def _searched(
    text: str, rng: random.Random, english: bool
) -> tuple[str, tuple[dict[str, str], ...]]:
    """A search-style answer: 2-4 cited pages, the first two also listed in the text."""
    picks = rng.sample(_SEARCH_SOURCES, rng.randint(2, 4))
    cited = tuple(
        {"url": url.format(n=rng.randint(10_000_000, 99_999_999)), "title": title}
        for url, title in picks
    )
    label = "Search results:" if english else "搜索来源："
    listed = "\n".join(f"[{i}] {c['url']}" for i, c in enumerate(cited[:2], start=1))
    return f"{text}\n\n{label}\n{listed}", cited


def _sources(rng: random.Random, english: bool) -> str:
    count = rng.choice((0, 1, 1, 2))
    if count == 0:
        return (
            "Sources: owner forums and reviews."
            if english
            else "以上信息综合自公开评测和用户反馈。"
        )
    urls = [
        rng.choice(_SOURCES).format(n=rng.randint(10_000_000, 99_999_999)) for _ in range(count)
    ]
    label = "Sources:" if english else "参考来源："
    return label + "\n" + "\n".join(f"- {url}" for url in urls)
