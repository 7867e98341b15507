"""Platforms and the calls to them: the Provider protocol, its errors, configs and the registry.

The public surface is what this module exports; the modules behind it are private. Nothing here
imports the engine, api, persistence or analysis packages.
"""

from diagnosis.providers.base import ChatRequest, Completion, Provider
from diagnosis.providers.config import PlatformConfig
from diagnosis.providers.demo import DemoProvider
from diagnosis.providers.errors import ProviderError
from diagnosis.providers.openai_compat import OpenAICompatibleProvider, parse_retry_after
from diagnosis.providers.presets import PRESETS
from diagnosis.providers.registry import (
    PlatformConfigError,
    PlatformRegistry,
    load_platforms,
    normalise_name,
)

__all__ = [
    "PRESETS",
    "ChatRequest",
    "Completion",
    "DemoProvider",
    "OpenAICompatibleProvider",
    "PlatformConfig",
    "PlatformConfigError",
    "PlatformRegistry",
    "Provider",
    "ProviderError",
    "load_platforms",
    "normalise_name",
    "parse_retry_after",
]
