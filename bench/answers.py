"""Answers the fake provider sends in benches: the tests' short default and a realistic long one.

The long answer is what assistants write for a recommendation question: `###` headers, numbered
and bulleted lists with nested lines, a markdown table, prose with praise and reservations, a few
URLs; it names the bench's brands unevenly. Deterministic, about 3000 characters.
"""

from tests.fake_openai import DEFAULT_ANSWER

SHORT_ANSWER = DEFAULT_ANSWER

_SECTIONS = (
    "### 1. 蔚来（NIO）\n"
    "蔚来的换电体系在国内最完善，截至目前已经建成两千多座换电站，补能体验非常省心。\n"
    "- **优点**：服务口碑很好，NIO House 和用户社区做得很用心，车机流畅，内饰精致。\n"
    "- **不足**：售价偏高，保值率一般，部分车主反映车机偶尔卡顿。\n"
    "  - 如果预算有限，可以考虑乐道品牌的车型。\n"
    "- 适合人群：看重服务和补能便利的家庭用户。\n\n"
    "### 2. 理想汽车\n"
    "理想主打家庭用户，增程方案没有续航焦虑，空间大，座椅舒适，冰箱彩电大沙发很受欢迎。\n"
    "1. L6：20万出头，性价比高，是这个价位最值得推荐的选择之一。\n"
    "2. L7：五座大空间，二排舒适性出色。\n"
    "3. MEGA：纯电MPV，但价格较高，销量不及预期。\n"
    "总体来说，理想的产品定义非常精准，但智能驾驶相比小鹏仍有差距。\n\n"
    "### 3. 小鹏汽车\n"
    "小鹏的智能驾驶领先，城市NGP覆盖广，语音助手好用，MONA M03 价格亲民。\n"
    "- 优势：智驾体验出色，软件迭代快，800V 快充充电快。\n"
    "- 劣势：售后网点较少，部分车型做工粗糙，品牌溢价能力偏弱。\n"
    "- 参考：https://www.xiaopeng.com/p7.html 和 https://www.dongchedi.com/article/7312\n\n"
)

_TABLE = (
    "| 品牌 | 代表车型 | 价格区间 | 亮点 | 短板 |\n"
    "| --- | --- | --- | --- | --- |\n"
    "| 蔚来 | ET5T | 25-30万 | 换电、服务 | 价格偏高 |\n"
    "| 理想 | L6 | 20-25万 | 空间、舒适 | 智驾一般 |\n"
    "| 小鹏 | G6 | 18-23万 | 智驾、快充 | 售后网点少 |\n"
    "| 比亚迪 | 汉EV | 18-25万 | 性价比、三电可靠 | 设计保守 |\n"
    "| 特斯拉 | Model 3 | 23-28万 | 品牌、能耗低 | 内饰简陋 |\n\n"
)

_PROSE = (
    "除了上面三家，比亚迪和特斯拉也值得关注。比亚迪的刀片电池安全可靠，销量稳居第一，"
    "性价比很高，不过设计相对保守；特斯拉 Model 3 能耗低，品牌认可度高，但内饰简陋，"
    "悬挂偏硬，后排舒适性一般。零跑的 C10 价格实惠，配置丰富，但品牌力和保值率都有待提升。\n\n"
    "选购建议：\n"
    "1. 预算在20万左右、家里有孩子：优先看理想 L6，空间和舒适性最均衡。\n"
    "2. 看重智能驾驶和科技感：小鹏 G6 或 MONA M03 更适合，智驾体验在同价位里最好。\n"
    "3. 没有家充桩、经常跑长途：蔚来的换电网络能省不少时间，虽然价格偏高，但补能无忧。\n"
    "4. 追求可靠和省心：比亚迪的三电系统成熟，维修网点多，长期用车成本低。\n\n"
    "需要提醒的是，新能源汽车的价格调整频繁，建议到店试驾并对比当地的优惠政策，"
    "也可以在懂车帝、汽车之家等平台查看真实车主的口碑，https://www.autohome.com.cn 上有详细的"
    "参数对比。综上，如果只推荐一款，我会推荐理想 L6；如果更看重智驾，小鹏是更好的选择，"
    "而蔚来适合对服务体验要求高的用户。\n"
)


def long_answer(target_chars: int = 3000) -> str:
    """The realistic long answer, repeated sections trimmed or padded to about `target_chars`."""
    text = "综合续航、智能化、空间和售后来看，20万左右的新能源汽车可以重点考虑以下几个品牌：\n\n"
    text += _SECTIONS + _TABLE + _PROSE
    while len(text) < target_chars:
        text += "\n补充说明：" + _PROSE
    return text[:target_chars]


LONG_ANSWER = long_answer()
