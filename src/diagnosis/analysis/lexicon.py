"""The compact sentiment lexicon (Chinese and English) behind the default sentiment judge.

Data only, already normalised (casefolded, NFKC): word -> weight, negators, and neutral
"blockers" that shadow a sentiment word inside a longer neutral one (有限公司 is not 有限).
Must never contain brand names or do I/O.
"""

from __future__ import annotations


def _weights(words: str, weight: int) -> dict[str, int]:
    return {word: weight for word in words.split()}


ZH_WEIGHTS: dict[str, int] = {
    **_weights(
        "推荐 值得 优秀 出色 出众 卓越 领先 可靠 靠谱 稳定 成熟 好评 口碑好 不错 好 良好 "
        "优质 高品质 性价比高 高性价比 实惠 划算 省心 省油 安全 舒适 宽敞 豪华 先进 强大 "
        "强劲 丰富 完善 贴心 周到 满意 受欢迎 热销 畅销 亮眼 突出 优势 优点 亮点 擅长 领跑 标杆 "
        "信赖 放心 扎实 均衡 全面 创新 专业 便捷 高效 流畅 精致 耐用 保值 续航长 优异 杰出 "
        "顶尖 一流 更好 认可 青睐 稳健 强 充足 齐全 适合 无忧 没得说 快充 充电快 好用 "
        "吸引力 竞争力 人性化 出彩 惊艳 过硬 硬核 给力 优越 友好 可圈可点 物有所值 物超所值 "
        "称赞 赞誉 稳居 深受 广受 认同 高端 体验好 服务好 大方 用心 细致 到位 省事 方便 便宜 "
        "盈利 明朗 喜欢 便利 时尚 回升 冠军 稳妥 成功 榜首 深厚 覆盖广 覆盖面广 较广 速度快 "
        "优惠 保值率高 增长 热门 能打 之王 扎实 亮点",
        1,
    ),
    **_weights("首选 最值得 强烈推荐 最佳 最好 无可挑剔 首推 最推荐 力荐 值得信赖 最省心", 2),
    **_weights(
        "差 较差 问题 故障 投诉 缺点 不足 劣势 短板 弱 偏弱 贵 偏贵 昂贵 偏高 高昂 风险 隐患 "
        "担忧 顾虑 争议 质疑 下滑 下降 亏损 召回 事故 延迟 卡顿 异响 慢 落后 一般 平庸 "
        "吐槽 失望 麻烦 缺乏 欠缺 有限 局限 不便 焦虑 贬值 逊色 欠佳 堪忧 过时 老旧 粗糙 减配 "
        "缩水 虚标 差评 负面 危机 困境 谨慎 乏力 不稳定 不如 差距 劣 拖后腿 不成熟 "
        "安全隐患 质量问题 怨言 噪音 压力 严重 发热 偏低 受限 偏硬 有待提升 有待提高 有待加强 "
        "平平 比不上 价格较高 价格高 性价比不高 性价比低 保值率低 参差不齐 不及预期 跌破 难 "
        "费劲 失败 糟心 槽点 尴尬 不尽如人意 不佳 较少 偏少",
        -1,
    ),
    **_weights("糟糕 避雷 踩雷 很差 不推荐 不建议 偷工减料 不值得", -2),
}

ZH_WEIGHTS.update(
    {
        **_weights("漂亮 好看 美观 喜爱 惊喜 安心 可信", 1),
        **_weights("可惜 遗憾 太少 诟病 简陋 单薄 糟糕透顶 翻车 劝退 不靠谱", -1),
    }
)
# Common evaluative words, comparatives and superlatives (更 is dropped as a degree adverb, so
# 更便宜 reads as 便宜; 最 is not, so superlatives are words of their own).
ZH_WEIGHTS.update(
    {
        **_weights(
            "温和 合理 实用 快 柔和 合适 兼容 干净 清爽 顺手 透明 新鲜 亲民 好喝 浓郁 顺滑 细腻 "
            "清晰 精准 灵活 自然 低价 价格低 门槛低 种类多 品类多 网点多 选择多 案例多 可口 "
            "最长 最强 最全 最快 最稳 最低 最便宜 最轻 最安静 最准 最自然 最顺滑 最成熟 最完整 "
            "最完善 最广 最高效 性价比最高 口碑最好 最实惠 最划算 最友好 最丰富 最精致 最细致 "
            "独到 耐磨 省钱 免费 轻薄 安静 静音 好用 稳 高效 顺畅 流行",
            1,
        ),
        **_weights(
            "中规中矩 上火 折腾 臃肿 寡淡 偏淡 偏苦 偏酸 偏甜 夹头 缺货 断流 刺激 闷痘 误导 "
            "鱼龙混杂 迷路 磨平 霉变 泄露 最短 最差 最弱 最慢 最贵 最少 价格最高 掉电快 耗电快 "
            "收费 溢价 过度 负担 噪音大 偏小 偏大 偏重 太贵 不便宜 发热 存疑 纠纷 缩水 "
            "老化 停止 乏味 单一 不全 不友好 不稳",
            -1,
        ),
    }
)

# Longer neutral words that contain a sentiment word: matched first, scored 0.
ZH_NEUTRAL: frozenset[str] = frozenset(
    "有限公司 一般来说 一般而言 一般情况 好像 只好 好几 好多 好奇 爱好 强调 勉强 强制 差不多 "
    "差异 差别 出差 宝贵 贵州 慢慢 这个问题 您的问题 你的问题 以下问题 常见问题 一般在 值得一提 "
    "值得注意 不少 "
    "不断 不仅 不同 不管 不论 不妨 不只 不禁 无论 而且 从而 因而 反而 而言 而是 进而 再好不过 "
    "无疑 无线 无人 不得不 不外乎 "
    "难道 难免 保值率 预算有限 适合您 更适合您 推荐以下 以下推荐 推荐如下 为您推荐 "
    "给您推荐 推荐几 推荐一些 专业软件 延迟退房 快充 快递 免费额度 免费版 免费套餐 最快捷".split()
)

ZH_NEGATORS: frozenset[str] = frozenset(
    "不 没 没有 无 并不 并非 不太 不是很 不算 不算太 谈不上 称不上 算不上 未 别 毫无 无法 难以 "
    "不再 不怎么 并没有 没那么 不那么 缺少 不大 不够 消除 缓解 解决了 告别".split()
)
# Negators that are a (mild) criticism on their own when nothing follows them: 续航不够。
ZH_SELF_NEGATIVE_NEGATORS: frozenset[str] = frozenset({"不够", "缺少"})
# Degree adverbs dropped before scoring, so 性价比很高 reads as 性价比高.
ZH_DEGREE_ADVERBS: tuple[str, ...] = (
    "非常",
    "十分",
    "相当",
    "特别",
    "极其",
    "极为",
    "颇为",
    "比较",
    "较为",
    "更加",
    "超级",
    "格外",
    "很",
    "更",
    "挺",
    "蛮",
)
# Verdicts that, right after a quality word, judge that quality (舒适性一般 is no praise).
ZH_QUALITY_VERDICTS: frozenset[str] = frozenset(
    "一般 差 较差 欠佳 不佳 不足 有待提升 有待提高 有待加强 平平 比不上 堪忧".split()
)
# A concession: what follows it, up to the end of its clause, weighs half.
ZH_CONCESSIONS: tuple[str, ...] = ("虽然", "尽管", "虽说", "虽")
EN_CONCESSIONS: frozenset[str] = frozenset({"despite"})
# Contrast words: they end a negation's reach like a comma does.
ZH_CONTRASTS: tuple[str, ...] = ("但是", "但", "可是", "然而", "不过", "而")
EN_CONTRASTS: frozenset[str] = frozenset("but however while whereas although though yet".split())

EN_WEIGHTS: dict[str, int] = {
    **_weights(
        "recommend recommended great excellent good better reliable strong impressive "
        "outstanding leading leader popular solid affordable comfortable safe advanced innovative "
        "superior efficient smooth premium luxurious spacious praised favorite favourite "
        "standout love loved well-built trusted trustworthy dependable robust competitive "
        "attractive excels excel fantastic amazing worth ideal pioneer pioneering perfect "
        "satisfied well-regarded renowned top-notch cutting-edge generous convenient fast quick "
        "seamless polished refined stellar compelling appealing advantage advantages strengths "
        "strength benefit benefits pros nice decent proven mature sleek intuitive "
        "value-for-money bargain winner leads reputable capable practical well-known top "
        "well-established impressed admired nicer class-leading responsive lightweight "
        "benchmark easy painless dominates dominant profitable profit recognizable improved "
        "handy loyal record thriving booming consistent drinkable durable clearest cheapest "
        "cheaper lightest lighter quieter quiet easier easiest flexible modern safest softer "
        "roomy versatile gentle effective fresh bright gorgeous beautiful beautifully lovely "
        "friendliest friendly generous usable underrated accurate clean simple stable "
        "tranquillity fun fastest smoothest favourite unlimited plush transparent",
        1,
    ),
    **_weights("best highly-recommended excellent-value unbeatable unmatched", 2),
    **_weights(
        "bad poor worse unreliable expensive pricey overpriced costly issues issue problems "
        "problem complaints complaint concerns concern weak weaker lacking lacks lack "
        "disappointing disappointed slow outdated dated risky risk risks recall recalls "
        "drawback drawbacks downside downsides limited struggles struggling struggle "
        "criticized criticised controversy controversial inconsistent buggy glitches glitchy "
        "defects defect faulty mediocre uncertain uncertainty cramped noisy decline declining "
        "losses troubled unproven lag lags lagging hassle inferior questionable shaky unstable "
        "cons weakness weaknesses fragile underwhelming cheap-feeling delays delayed "
        "failures failure difficult harsh clunky sluggish thin slipping slowed slower stress "
        "anxiety struggled losing watery bland cluttered uneven finicky gimmicky overkill "
        "underpowered loud shallow steep pricier markup marked-up hikes lock-in "
        "unpredictable fillers distracting brutal narrow clog clogs outages scandals devalued "
        "pills hot drops oxidises oxidizes cakey fades ads",
        -1,
    ),
    **_weights("worst terrible awful avoid horrible", -2),
}

# Multi-word English entries, matched before single words (tokens joined by "-").
EN_PHRASES: dict[str, int] = {
    "value-for-money": 1,
    "top-choice": 2,
    "best-choice": 2,
    "first-choice": 2,
    "highly-recommended": 2,
    "highly-recommend": 2,
    "stands-out": 1,
    "stand-out": 1,
    "well-known": 1,
    "falls-short": -1,
    "fall-short": -1,
    "second-to-none": 2,
    "worth-considering": 1,
    "so-so": -1,
    "peace-of-mind": 1,
    "no-doubt": 0,
    "not-only": 0,
    "not-just": 0,
    "no-matter": 0,
    "pros-and-cons": 0,
    "good-fit": 1,
    "great-fit": 1,
    "hard-to-recommend": -2,
    "think-twice": -1,
    "track-record": 0,
    "widely-available": 1,
    "losing-money": -1,
    "burn-cash": -1,
    "burning-cash": -1,
    "falling-short": -1,
    "best-in-class": 2,
    "well-received": 1,
    "all-time-high": 1,
    "hidden-gem": 2,
    "good-value": 1,
    "hard-to-beat": 2,
    "top-marks": 2,
    "worth-noting": 0,
    "worth-mentioning": 0,
}

EN_NEGATORS: frozenset[str] = frozenset(
    "not no never hardly barely neither nor without cannot isn't aren't wasn't weren't "
    "doesn't don't didn't won't can't couldn't shouldn't wouldn't hasn't haven't hadn't ain't "
    "nothing less rarely seldom".split()
)

# Words that point back to the brand of the previous sentence.
ZH_BACK_REFERENCES: tuple[str, ...] = (
    "它",
    "该品牌",
    "该车",
    "该公司",
    "该车型",
    "这家",
    "这个品牌",
    "这款",
    "这一品牌",
    "他们家",
)
ZH_QI_NOT_REFERENCE: tuple[str, ...] = ("其他", "其中", "其实", "尤其", "极其", "其余", "其次")
EN_BACK_REFERENCES: frozenset[str] = frozenset(
    "it its it's they their them this-brand the-brand the-company".split()
)
