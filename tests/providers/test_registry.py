"""Platform configs, presets, platforms.toml merging, the registry's one provider per platform."""

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from diagnosis.providers import (
    ChatRequest,
    DemoProvider,
    OpenAICompatibleProvider,
    PlatformConfig,
    PlatformConfigError,
    PlatformRegistry,
    load_platforms,
)

PRESET_IDS = {
    "deepseek", "qwen", "doubao", "kimi", "zhipu", "openai", "gemini", "wenxin", "hunyuan",
    "ollama", "demo",
}
KEY_VARIABLES = [
    "DEEPSEEK_API_KEY",
    "DASHSCOPE_API_KEY",
    "ARK_API_KEY",
    "MOONSHOT_API_KEY",
    "ZHIPUAI_API_KEY",
    "OPENAI_API_KEY",
]


@pytest.fixture(autouse=True)
def no_keys(monkeypatch):
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def write_toml(tmp_path: Path):
    def write(text: str) -> Path:
        path = tmp_path / "platforms.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
async def registry():
    registry = PlatformRegistry(load_platforms(None))
    yield registry
    await registry.aclose()


def test_presets_load_without_a_file():
    configs = load_platforms(None)

    assert set(configs) == PRESET_IDS
    assert configs["qwen"].base_url == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert configs["zhipu"].model == "glm-4-flash"
    assert configs["deepseek"].max_concurrency == 8
    assert configs["gemini"].api_key_env == "GEMINI_API_KEY"
    assert configs["wenxin"].api_key_env == "QIANFAN_API_KEY"
    assert configs["hunyuan"].api_key_env == "HUNYUAN_API_KEY"


@pytest.mark.parametrize(
    ("name", "platform_id"),
    [
        ("DeepSeek", "deepseek"),
        ("deepseek", "deepseek"),
        ("DEEPSEEK", "deepseek"),
        ("通义千问", "qwen"),
        ("千问", "qwen"),
        ("豆包", "doubao"),
        ("Kimi", "kimi"),
        ("moonshot", "kimi"),
        ("智谱", "zhipu"),
        ("智谱AI", "zhipu"),
        ("智谱 GLM", "zhipu"),
        ("ＧＬＭ", "zhipu"),
        ("ChatGPT", "openai"),
        ("chatgpt", "openai"),
        ("gpt", "openai"),
        ("gemini", "gemini"),
        ("文心一言", "wenxin"),
        ("ERNIE", "wenxin"),
        ("腾讯混元", "hunyuan"),
        ("Ollama", "ollama"),
        (" demo ", "demo"),
        ("演示", "demo"),
    ],
)
def test_resolve_finds_platform_by_id_display_name_or_alias(registry, name, platform_id):
    assert registry.resolve(name) == platform_id


@pytest.mark.parametrize("name", ["xinghuo", "", "   ", "deepseek-r9"])
def test_resolve_unknown_name_is_none(registry, name):
    assert registry.resolve(name) is None


def test_only_keyless_platforms_are_configured_without_keys(registry):
    assert set(registry.configured_ids()) == {"ollama", "demo"}


def test_platform_is_configured_once_its_key_variable_is_set(registry, monkeypatch):
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test-SECRET123")
    monkeypatch.setenv("MOONSHOT_API_KEY", "   ")

    assert "deepseek" in registry.configured_ids()
    assert "kimi" not in registry.configured_ids()
    assert registry.get("deepseek").api_key() == "sk-test-SECRET123"


def test_public_dict_shows_limits_and_reason_but_never_the_key(monkeypatch):
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-test-SECRET123")
    configs = load_platforms(None)

    deepseek, qwen = configs["deepseek"].public_dict(), configs["qwen"].public_dict()

    assert deepseek["configured"] is False
    assert deepseek["reason"] == "set DEEPSEEK_API_KEY"
    assert deepseek["limits"] == {
        "max_concurrency": 8,
        "rpm": None,
        "timeout_s": 60.0,
        "max_retries": 2,
        "failure_threshold": 5,
        "reset_timeout_s": 30.0,
    }
    assert qwen["configured"] is True and "reason" not in qwen
    assert qwen["display_name"] == "通义千问"
    assert "sk-test-SECRET123" not in str(qwen) + repr(configs["qwen"])
    assert "sk-test-SECRET123" not in str(configs["qwen"].model_dump())


def test_toml_overrides_a_preset_field_by_field(write_toml):
    path = write_toml("[platforms.deepseek]\nmax_concurrency = 3\nrpm = 60\n")

    configs = load_platforms(path)

    assert configs["deepseek"].max_concurrency == 3
    assert configs["deepseek"].rpm == 60
    assert configs["deepseek"].model == "deepseek-chat"
    assert configs["deepseek"].api_key_env == "DEEPSEEK_API_KEY"


def test_toml_adds_a_new_platform(write_toml):
    path = write_toml(
        """
[platforms.xinghuo]
kind = "openai"
base_url = "https://spark-api-open.xf-yun.com/v1"
model = "generalv3.5"
api_key_env = "SPARK_API_KEY"
display_name = "讯飞星火"
aliases = ["spark", "星火"]
timeout_s = 30
"""
    )

    registry = PlatformRegistry(load_platforms(path))

    assert registry.resolve("讯飞星火") == "xinghuo"
    assert registry.get("xinghuo").timeout_s == 30.0
    assert registry.get("xinghuo").configured is False
    assert registry.resolve("DeepSeek") == "deepseek"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[platforms.deepseek]\nkind = 'foo'\n", "platforms.deepseek.kind: unknown kind 'foo'"),
        ("[platforms.deepseek]\nmax_concurrency = '8'\n", "platforms.deepseek.max_concurrency"),
        ("[platforms.deepseek]\nmax_concurrency = 0\n", "platforms.deepseek.max_concurrency"),
        ("[platforms.deepseek]\ncolour = 'red'\n", "platforms.deepseek.colour: unknown field"),
        ("[platforms.mine]\nmodel = 'x'\n", "platforms.mine.kind: required"),
        ("[platforms.mine]\nkind = 'openai'\nmodel = 'x'\n", "base_url is required"),
        ("[platforms.demo]\naliases = 'x'\n", "platforms.demo.aliases"),
        ("[limits]\nx = 1\n", "limits: unknown top-level key"),
    ],
)
def test_invalid_platform_field_names_the_file_and_field(write_toml, text, expected):
    path = write_toml(text)

    with pytest.raises(PlatformConfigError) as caught:
        load_platforms(path)

    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_malformed_toml_names_the_file_and_position(write_toml):
    path = write_toml("[platforms.deepseek]\nmax_concurrency = \n")

    with pytest.raises(PlatformConfigError) as caught:
        load_platforms(path)

    assert str(path) in str(caught.value)
    assert "line 2" in str(caught.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(PlatformConfigError, match="file not found"):
        load_platforms(tmp_path / "nope.toml")


async def test_provider_is_built_once_per_platform(registry):
    first = registry.provider("deepseek")

    assert registry.provider("deepseek") is first
    assert isinstance(first, OpenAICompatibleProvider)
    assert isinstance(registry.provider("demo"), DemoProvider)
    assert registry.provider("qwen") is not first


async def test_aclose_closes_every_client(registry):
    provider = registry.provider("deepseek")
    assert isinstance(provider, OpenAICompatibleProvider)

    await registry.aclose()

    assert provider._client.is_closed
    assert registry.provider("deepseek") is not provider


def test_unknown_platform_provider_is_a_key_error(registry):
    with pytest.raises(KeyError):
        registry.provider("nope")


async def test_client_pool_is_sized_to_the_platform_limits(fake_openai):
    # given a platform limited to 3 connections, and a slow server
    from tests.fake_openai import ok

    config = PlatformConfig(id="p3", kind="openai", base_url=fake_openai.base_url, model="p3",
                            max_concurrency=3, timeout_s=7)
    fake_openai.default("p3", ok("好的", latency_s=0.1))
    provider = OpenAICompatibleProvider(config)
    try:
        # when 10 calls are made at once, straight to the provider (no engine limits)
        await asyncio.gather(*(provider.complete(ChatRequest(f"q{i}")) for i in range(10)))
    finally:
        await provider.aclose()
    # then the client's own pool never had more than 3 requests on the wire
    assert fake_openai.peak_concurrency("p3") == 3
    assert len(fake_openai.calls_for("p3")) == 10


def test_providers_package_imports_no_other_layer():
    code = (
        "import sys, diagnosis.providers; "
        "bad = [m for m in sys.modules if m.split('.')[:2] in "
        "(['diagnosis', 'engine'], ['diagnosis', 'api'], ['diagnosis', 'persistence'], "
        "['diagnosis', 'analysis'])]; "
        "assert not bad, bad"
    )

    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
