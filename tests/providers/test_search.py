"""Web-grounded calls (SPEC 7, `search = true`) over real HTTP against the loopback fake: each
provider's documented request shape is asserted AT THE FAKE, and the citations its response
returns come back with the completion (providers/search.py)."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from diagnosis.analysis import BrandSpec, analyze_answer
from diagnosis.providers import (
    ChatRequest,
    OpenAICompatibleProvider,
    PlatformConfig,
    PlatformConfigError,
    load_platforms,
)
from diagnosis.providers.demo import DemoProvider
from tests.fake_openai import FakeOpenAI, ok, tool_call

MODEL = "fake-model"
ANSWER = "1. **蔚来**：服务好，见 https://www.nio.com/es8\n2. **理想**：空间大。"


@pytest.fixture
async def make_provider(fake_openai: FakeOpenAI) -> AsyncIterator[Callable[..., Any]]:
    providers: list[OpenAICompatibleProvider] = []

    def make(**fields: Any) -> OpenAICompatibleProvider:
        config = PlatformConfig(
            id="fake", kind="openai", base_url=fake_openai.base_url, model=MODEL, **fields
        )
        providers.append(OpenAICompatibleProvider(config))
        return providers[-1]

    yield make
    for provider in providers:
        await provider.aclose()


async def test_search_off_sends_no_search_fields(make_provider, fake_openai):
    fake_openai.default(None, ok(ANSWER))
    completion = await make_provider(web_search="dashscope").complete(ChatRequest("推荐"))
    [call] = fake_openai.calls
    assert set(call.payload) == {"model", "messages"}
    assert completion.citations == ()


async def test_qwen_asks_dashscope_for_enable_search(make_provider, fake_openai):
    # DashScope's OpenAI-compatible mode returns no sources; read search_info if it comes
    fake_openai.default(None, ok(ANSWER, extra={"search_info": {"search_results": [
        {"index": 1, "title": "知乎", "url": "https://zhuanlan.zhihu.com/p/1"}]}}))
    provider = make_provider(search=True, web_search="dashscope")
    completion = await provider.complete(ChatRequest("推荐新能源车"))
    [call] = fake_openai.calls
    assert call.payload["enable_search"] is True
    assert call.payload["search_options"] == {"forced_search": True}
    assert call.payload["model"] == MODEL and "tools" not in call.payload
    assert completion.citations == ({"url": "https://zhuanlan.zhihu.com/p/1", "title": "知乎"},)


async def test_glm_asks_for_the_web_search_tool_and_reads_its_results(make_provider, fake_openai):
    fake_openai.default(None, ok(ANSWER, extra={"web_search": [
        {"title": "百度百科", "link": "https://baike.baidu.com/item/蔚来", "refer": "ref_1"},
        {"title": "again", "link": "https://baike.baidu.com/item/蔚来", "refer": "ref_2"},
        {"title": "no link", "refer": "ref_3"},
    ]}))
    completion = await make_provider(search=True, web_search="zhipu").complete(ChatRequest("q"))
    [call] = fake_openai.calls
    assert call.payload["tools"] == [
        {"type": "web_search", "web_search": {"enable": True, "search_result": True}}
    ]
    assert completion.citations == (
        {"url": "https://baike.baidu.com/item/蔚来", "title": "百度百科"},
    )


async def test_openai_uses_its_search_model_with_web_search_options(make_provider, fake_openai):
    annotations = [
        {"type": "url_citation", "url_citation": {
            "url": "https://www.reuters.com/autos/nio", "title": "Reuters",
            "start_index": 0, "end_index": 5}},
        {"type": "file_citation", "file_citation": {"file_id": "x"}},  # not a web page
    ]
    fake_openai.default(None, ok(ANSWER, message={"annotations": annotations}))
    provider = make_provider(
        search=True, web_search="openai", search_model="gpt-4o-mini-search-preview"
    )
    completion = await provider.complete(ChatRequest("best EVs"))
    [call] = fake_openai.calls
    assert call.model == "gpt-4o-mini-search-preview"
    assert call.payload["web_search_options"] == {}
    assert completion.citations == ({"url": "https://www.reuters.com/autos/nio",
                                     "title": "Reuters"},)


async def test_kimi_runs_the_web_search_tool_round_trip(make_provider, fake_openai):
    # given Kimi asking for its builtin $web_search first, then answering
    arguments = '{"search_result": {"search_id": "s-1"}, "usage": {"total_tokens": 9}}'
    fake_openai.script(MODEL, tool_call("$web_search", arguments, "call-7"), ok(ANSWER))
    completion = await make_provider(search=True, web_search="moonshot").complete(
        ChatRequest("推荐新能源车")
    )
    # then the tool is declared, and the call's arguments went back verbatim as the tool message
    first, second = fake_openai.calls
    tools = [{"type": "builtin_function", "function": {"name": "$web_search"}}]
    assert first.payload["tools"] == second.payload["tools"] == tools
    user, assistant, tool = second.payload["messages"]
    assert user == {"role": "user", "content": "推荐新能源车"}
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"][0]["id"] == "call-7"
    assert tool == {
        "role": "tool", "tool_call_id": "call-7", "name": "$web_search", "content": arguments,
    }
    assert completion.text == ANSWER


async def test_api_citations_and_text_urls_merge_without_duplicates_in_the_analysis(
    make_provider, fake_openai
):
    # given a web-grounded answer citing a page it also writes in its text
    fake_openai.default(None, ok(ANSWER, extra={"web_search": [
        {"title": "NIO", "link": "https://nio.com/es8/"},
        {"title": "知乎", "link": "https://zhuanlan.zhihu.com/p/9"},
    ]}))
    completion = await make_provider(search=True, web_search="zhipu").complete(ChatRequest("q"))
    brands = [BrandSpec("蔚来", is_own=True, domains=("nio.com",)), BrandSpec("理想")]
    sources = analyze_answer(completion.text, brands, citations=completion.citations)["sources"]
    assert [(s["url"], s["kind"], s["cited_by"]) for s in sources] == [
        ("https://nio.com/es8/", "own", "api"),
        ("https://zhuanlan.zhihu.com/p/9", "ugc", "api"),
    ]  # the text's https://www.nio.com/es8 is the first citation's page


async def test_the_demo_platform_answers_search_style_with_citations():
    demo = DemoProvider(PlatformConfig(id="demo", kind="demo", search=True), latency_ms=0)
    completion = await demo.complete(ChatRequest("推荐新能源车", ("蔚来", "理想")))
    assert 2 <= len(completion.citations) <= 4
    assert completion.citations[0]["url"] in completion.text  # the first two are also listed
    plain = DemoProvider(PlatformConfig(id="demo", kind="demo"), latency_ms=0)
    assert (await plain.complete(ChatRequest("推荐新能源车", ("蔚来",)))).citations == ()


def test_presets_say_which_platforms_can_search(tmp_path: Path):
    configs = load_platforms(None)
    mechanisms = {pid: c.search_dict()["mechanism"] for pid, c in configs.items()}
    assert mechanisms["qwen"] == "dashscope" and mechanisms["kimi"] == "moonshot"
    assert mechanisms["zhipu"] == "zhipu" and mechanisms["openai"] == "openai"
    assert mechanisms["demo"] == "demo"
    deepseek = configs["deepseek"].public_dict()["search"]
    assert deepseek["supported"] is False and "no web search" in deepseek["note"]
    assert all(not c.search for c in configs.values())  # off by default
    # search = true in a platforms file turns it on; on a platform without one it is refused
    path = tmp_path / "platforms.toml"
    path.write_text("[platforms.qwen]\nsearch = true\n")
    assert load_platforms(path)["qwen"].public_dict()["search"]["enabled"] is True
    path.write_text("[platforms.deepseek]\nsearch = true\n")
    with pytest.raises(PlatformConfigError, match="web_search"):
        load_platforms(path)
