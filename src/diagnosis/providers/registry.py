"""The platform registry: presets merged with platforms.toml, name resolution, one provider each.

Owns exactly one provider (so one pooled HTTP client) per platform and closes them all.
Must never import the engine, api, persistence or analysis packages.
"""

import re
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from diagnosis.providers.base import Provider
from diagnosis.providers.config import PLATFORM_KINDS, PlatformConfig
from diagnosis.providers.demo import DemoProvider
from diagnosis.providers.openai_compat import OpenAICompatibleProvider
from diagnosis.providers.presets import preset_fields

TransportFactory = Callable[[PlatformConfig], httpx.AsyncBaseTransport | None]

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class PlatformConfigError(ValueError):
    """A platforms file that cannot be used; the message names the file and the field."""


def load_platforms(path: Path | None = None) -> dict[str, PlatformConfig]:
    """The presets, with `[platforms.<id>]` tables of `path` merged over them field by field."""
    raw = preset_fields()
    source = "presets"
    if path is not None:
        source = str(path)
        for pid, table in _read_platform_tables(path).items():
            if pid in raw:
                raw[pid].update(table)
            else:
                if "kind" not in table:
                    raise PlatformConfigError(
                        f"{source}: platforms.{pid}.kind: required for a new platform "
                        "(openai or demo)"
                    )
                raw[pid] = dict(table)
    return {pid: _validate(pid, fields, source) for pid, fields in raw.items()}


def _read_platform_tables(path: Path) -> dict[str, dict[str, Any]]:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise PlatformConfigError(f"{path}: file not found") from exc
    except OSError as exc:
        raise PlatformConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PlatformConfigError(f"{path}: invalid TOML: {exc}") from exc

    for key in document:
        if key != "platforms":
            raise PlatformConfigError(
                f"{path}: {key}: unknown top-level key (expected [platforms.<id>] tables)"
            )
    platforms = document.get("platforms", {})
    if not isinstance(platforms, dict):
        raise PlatformConfigError(f"{path}: platforms: must be a table of [platforms.<id>]")

    tables: dict[str, dict[str, Any]] = {}
    for pid, table in platforms.items():
        where = f"{path}: platforms.{pid}"
        if not isinstance(table, dict):
            raise PlatformConfigError(f"{where}: must be a table")
        if not _ID_PATTERN.match(pid):
            raise PlatformConfigError(f"{where}: invalid id (letters, digits, '_', '-', '.')")
        if "id" in table and table["id"] != pid:
            raise PlatformConfigError(f"{where}.id: must match the table name {pid!r}")
        kind = table.get("kind")
        if kind is not None and kind not in PLATFORM_KINDS:
            raise PlatformConfigError(
                f"{where}.kind: unknown kind {kind!r} (expected openai or demo)"
            )
        tables[pid] = {name: value for name, value in table.items() if name != "id"}
    return tables


def _validate(pid: str, fields: dict[str, Any], source: str) -> PlatformConfig:
    try:
        return PlatformConfig(id=pid, **fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        where = f"platforms.{pid}.{field}" if field else f"platforms.{pid}"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        raise PlatformConfigError(f"{source}: {where}: {message}") from None


def normalise_name(name: str) -> str:
    """The form names are compared in: NFKC, case-folded, without any whitespace."""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


class PlatformRegistry:
    def __init__(
        self,
        configs: Mapping[str, PlatformConfig],
        *,
        transport_factory: TransportFactory | None = None,
    ) -> None:
        self.configs: dict[str, PlatformConfig] = dict(configs)
        self._transport_factory = transport_factory
        self._providers: dict[str, Provider] = {}
        self._names: dict[str, str] = {}
        # Ids win over display names, which win over aliases, whatever the file order.
        for attribute in ("id", "display_name", "aliases"):
            for pid, config in self.configs.items():
                value = getattr(config, attribute)
                for name in value if isinstance(value, list) else [value]:
                    key = normalise_name(name)
                    if key:
                        self._names.setdefault(key, pid)

    @classmethod
    def from_file(
        cls, path: Path | None, *, transport_factory: TransportFactory | None = None
    ) -> "PlatformRegistry":
        return cls(load_platforms(path), transport_factory=transport_factory)

    def resolve(self, name: str) -> str | None:
        """The platform id that `name` (an id, display name or alias, any case) refers to."""
        return self._names.get(normalise_name(name))

    def get(self, platform_id: str) -> PlatformConfig:
        return self.configs[platform_id]

    def configured_ids(self) -> list[str]:
        return [pid for pid, config in self.configs.items() if config.configured]

    def public_list(self) -> list[dict[str, Any]]:
        return [config.public_dict() for config in self.configs.values()]

    def provider(self, platform_id: str) -> Provider:
        """The platform's one provider, built on first use. KeyError for an unknown id."""
        provider = self._providers.get(platform_id)
        if provider is None:
            provider = self._build(self.configs[platform_id])
            self._providers[platform_id] = provider
        return provider

    def _build(self, config: PlatformConfig) -> Provider:
        if config.kind == "demo":
            return DemoProvider(config)
        transport = self._transport_factory(config) if self._transport_factory else None
        return OpenAICompatibleProvider(config, transport=transport)

    async def aclose(self) -> None:
        """Close every provider built so far; a later `provider()` call builds a fresh one."""
        providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            await provider.aclose()
