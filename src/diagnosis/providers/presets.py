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
        "aliases": ["moonshot", "月之暗面"],
    },
    "zhipu": {
        "kind": "openai",
        "base_url": "https://open.bigmodel.cn/api/paas/v4",
        "model": "glm-4-flash",
        "api_key_env": "ZHIPUAI_API_KEY",
        "display_name": "智谱 GLM",
        "aliases": ["智谱", "智谱AI", "智谱清言", "glm", "chatglm", "zhipuai"],
    },
    "openai": {
        "kind": "openai",
        "base_url": "https://api.openai.com/v1",
        "model": "gpt-4o-mini",
        "api_key_env": "OPENAI_API_KEY",
        "display_name": "ChatGPT",
        "aliases": ["openai", "gpt", "chat gpt"],
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
