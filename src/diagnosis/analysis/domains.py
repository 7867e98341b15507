"""What a cited source is: its registrable domain (Public Suffix List) and its kind (own |
competitor | ugc | editorial | ecommerce | encyclopedia | other).

The suffix list is tldextract's bundled snapshot, never fetched; the kind table is the data file
next to this module, optionally extended by a user file (DIAGNOSIS_DOMAIN_KINDS_FILE). Reads
those files once per path; never touches the network.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Final, Literal

import tldextract

from diagnosis.analysis.schemas import BrandSpec

SourceKind = Literal["own", "competitor", "ugc", "editorial", "ecommerce", "encyclopedia", "other"]
TABLE_KINDS: tuple[str, ...] = ("ugc", "editorial", "ecommerce", "encyclopedia")
SOURCE_KINDS: tuple[str, ...] = ("own", "competitor", *TABLE_KINDS, "other")
# Through the package, not __file__: the compiled module's __file__ is not the source's (native.py).
DEFAULT_TABLE: Final = Path(str(files("diagnosis.analysis").joinpath("domain_kinds.json")))

# suffix_list_urls=() and cache_dir=None: the snapshot shipped inside the package, no fetch, no
# cache file written anywhere. ICANN suffixes only: a-brand.github.io counts as github.io.
_EXTRACT: Final = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class DomainTableError(ValueError):
    """A kinds file that cannot be used; the message names the file and the entry."""


def host_of(domain_or_url: str) -> str:
    """A bare host, lowercased, without "www.", port or trailing dot (URLs and hosts alike)."""
    text = domain_or_url.strip().lower()
    if "://" in text:
        text = text.split("://", 1)[1]
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    if not text.startswith("["):
        text = text.split(":", 1)[0]
    text = text.rstrip(".")
    return text[4:] if text.startswith("www.") else text


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """The registrable domain ("zhuanlan.zhihu.com" -> "zhihu.com", "www.bbc.co.uk" ->
    "bbc.co.uk"); the host itself when it has none (an IP address, "localhost")."""
    parts = _EXTRACT(host)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    return host


def _suffixes(host: str) -> Iterable[str]:
    """host, then each parent: a.b.c.com, b.c.com, c.com, com (longest first)."""
    labels = host.split(".")
    for i in range(len(labels)):
        yield ".".join(labels[i:])


@dataclass(frozen=True, slots=True)
class DomainKinds:
    """Host suffix -> kind, plus "label.*" entries (a registrable domain's first label under any
    public suffix, as in amazon.*)."""

    by_suffix: Mapping[str, str]
    by_label: Mapping[str, str]

    def kind_of(self, host: str) -> str:
        for suffix in _suffixes(host):
            kind = self.by_suffix.get(suffix)
            if kind is not None:
                return kind
        label = registrable_domain(host).split(".", 1)[0]
        return self.by_label.get(label, "other")


def _entries(document: object, source: str) -> dict[str, str]:
    if not isinstance(document, dict):
        raise DomainTableError(f"{source}: expected a table of kind -> [domains]")
    entries: dict[str, str] = {}
    for kind, domains in document.items():
        if kind.startswith("_"):  # _comment
            continue
        if kind not in TABLE_KINDS:
            raise DomainTableError(
                f"{source}: {kind}: unknown kind (expected one of {', '.join(TABLE_KINDS)})"
            )
        if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
            raise DomainTableError(f"{source}: {kind}: expected a list of domains")
        for domain in domains:
            key = domain.strip().lower().removeprefix("www.")
            if key:
                entries[key] = kind
    return entries


def _read(path: Path) -> object:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DomainTableError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        if path.suffix.lower() == ".toml":
            return tomllib.loads(raw.decode("utf-8"))
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        kind = path.suffix.lstrip(".") or "file"
        raise DomainTableError(f"{path}: invalid {kind}: {exc}") from exc


@lru_cache(maxsize=8)
def domain_kinds(extra: Path | None = None) -> DomainKinds:
    """The default table, with `extra`'s entries (JSON or TOML, same shape) winning."""
    entries = _entries(_read(DEFAULT_TABLE), DEFAULT_TABLE.name)
    if extra is not None:
        entries.update(_entries(_read(extra), str(extra)))
    by_label = {k[:-2]: v for k, v in entries.items() if k.endswith(".*")}
    by_suffix = {k: v for k, v in entries.items() if not k.endswith(".*")}
    return DomainKinds(by_suffix=by_suffix, by_label=by_label)


def _owned(host: str, domains: Sequence[str]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def classify(host: str, brands: Sequence[BrandSpec], kinds: DomainKinds | None = None) -> str:
    """own when the host is (under) one of the own brand's domains, competitor for a
    competitor's, else the table's kind, else "other"."""
    for wanted in (True, False):
        for brand in brands:
            if brand.is_own is wanted and brand.domains and _owned(host, brand.domains):
                return "own" if wanted else "competitor"
    return (kinds or domain_kinds()).kind_of(host)


def owner_of(host: str, brands: Sequence[BrandSpec]) -> str | None:
    """The brand whose domain the host is, if any (own brand first)."""
    for brand in sorted(brands, key=lambda b: not b.is_own):
        if brand.domains and _owned(host, brand.domains):
            return brand.name
    return None
