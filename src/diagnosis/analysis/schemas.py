"""Value types shared by the analysis modules: the brands an answer is read for.

Plain frozen dataclasses only; this module must never import other diagnosis subpackages
or do I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BrandSpec:
    """A brand to look for in an answer: its canonical name, aliases and ownership."""

    name: str  # canonical name from the request
    aliases: tuple[str, ...] = ()
    is_own: bool = False
    domains: tuple[str, ...] = ()  # its sites ("nio.com"): sources there are own / competitor

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name followed by its aliases (the spellings to search for)."""
        return (self.name, *self.aliases)
