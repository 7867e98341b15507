"""Built-in platform presets (SPEC 7), the base a platforms.toml file is merged over.

Only names of key variables live here, never a key; endpoints are the vendors' documented
OpenAI-compatible ones.
"""

from types import MappingProxyType
from typing import Any

from diagnosis.providers.config import PlatformConfig

_PRESETS: dict[str, dict[str, Any]] = {
    "deepseek": {
        "kind": "openai",
        "base_url": "https://api.deepseek.com/v1",
        "model": "deepseek-chat",
        "api_key_env": "DEEPSEEK_API_KEY",
        "display_name": "DeepSeek",
        "aliases": ["深度求索", "deep seek"],
    },
    "qwen": {
        "kind": "openai",
        "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "model": "qwen-plus",
        "api_key_env": "DASHSCOPE_API_KEY",
        "display_name": "通义千问",
        "web_search": "dashscope",
        "aliases": ["qwen", "tongyi", "通义", "千问", "dashscope", "阿里云百炼"],
    },
    "doubao": {
        "kind": "openai",
        "base_url": "https://ark.cn-beijing.volces.com/api/v3",
        "model": "doubao-pro-32k",
        "api_key_env": "ARK_API_KEY",
        "display_name": "豆包",
        "aliases": ["doubao", "volcengine", "ark", "火山方舟"],
    },
    "kimi": {
        "kind": "openai",
        "base_url": "https://api.moonshot.cn/v1",
        "model": "moonshot-v1-8k",
        "api_key_env": "MOONSHOT_API_KEY",
        "display_name": "Kimi",
        "web_search": "moonshot",
        "aliases": ["moonshot", "月之暗面"],
    },
    "zhipu": {
        "kind": "openai",
        "base_url": "https://open.bigmodel.cn/api/paas/v4",
        "model": "glm-4-flash",
        "api_key_env": "ZHIPUAI_API_KEY",
        "display_name": "智谱 GLM",
        "web_search": "zhipu",
        "aliases": ["智谱", "智谱AI", "智谱清言", "glm", "chatglm", "zhipuai"],
    },
    "openai": {
        "kind": "openai",
        "base_url": "https://api.openai.com/v1",
        "model": "gpt-4o-mini",
        "api_key_env": "OPENAI_API_KEY",
        "display_name": "ChatGPT",
        "web_search": "openai",
        "search_model": "gpt-4o-mini-search-preview",
        # "chatgpt" is what the mini-program sends: kept as an alias so it resolves even when a
        # platforms file renames the display name.
        "aliases": ["chatgpt", "openai", "gpt", "chat gpt"],
    },
    # https://ai.google.dev/gemini-api/docs/openai (OpenAI compatibility: base_url, models)
    "gemini": {
        "kind": "openai",
        "base_url": "https://generativelanguage.googleapis.com/v1beta/openai",
        "model": "gemini-2.5-flash",
        "api_key_env": "GEMINI_API_KEY",
        "display_name": "Gemini",
        "aliases": ["google gemini"],
    },
    # https://cloud.baidu.com/doc/WENXINWORKSHOP/s/2m3fihw8s (OpenAI接口兼容: base_url) and
    # https://cloud.baidu.com/doc/WENXINWORKSHOP/s/Wm3fhy2vb (对话Chat V2 model ids)
    "wenxin": {
        "kind": "openai",
        "base_url": "https://qianfan.baidubce.com/v2",
        "model": "ernie-4.0-turbo-8k",
        "api_key_env": "QIANFAN_API_KEY",
        "display_name": "文心一言",
        "aliases": ["文心", "ernie", "qianfan", "千帆", "百度千帆", "wenxin yiyan"],
    },
    # https://cloud.tencent.com/document/product/1729/111007 (混元 OpenAI 兼容接口: base_url, model)
    "hunyuan": {
        "kind": "openai",
        "base_url": "https://api.hunyuan.cloud.tencent.com/v1",
        "model": "hunyuan-turbos-latest",
        "api_key_env": "HUNYUAN_API_KEY",
        "display_name": "腾讯混元",
        "aliases": ["混元", "混元大模型", "tencent hunyuan"],
    },
    "ollama": {
        "kind": "openai",
        "base_url": "http://127.0.0.1:11434/v1",
        "model": "qwen2.5:7b",
        "api_key_env": None,
        "display_name": "Ollama (local)",
        "aliases": ["ollama", "local"],
    },
    "demo": {
        "kind": "demo",
        "model": "demo-1",
        "display_name": "Demo (offline)",
        "aliases": ["演示", "offline"],
    },
}


def preset_fields() -> dict[str, dict[str, Any]]:
    """Fresh copies of the presets' raw fields, for merging a config file over them."""
    return {pid: {**fields, "aliases": list(fields["aliases"])} for pid, fields in _PRESETS.items()}


PRESETS: MappingProxyType[str, PlatformConfig] = MappingProxyType(
    {pid: PlatformConfig(id=pid, **fields) for pid, fields in preset_fields().items()}
)
