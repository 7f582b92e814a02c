"""The server's view of the style banks: the user's bank and the shipped one, as ``bank:NAME`` sees them.

Loading both banks costs about 0.1 s, too much per request, so the banks are kept in memory and
reloaded when a bank's index file changes (``adain bank add`` from a shell shows up at once).
Lookup order is :func:`adain.styles.library.available_banks`'s: the user's bank first, so a
user's style overrides a shipped one of the same name. ``POST /v1/styles`` adds to the user's
bank file (the one ``adain bank`` writes), so added styles outlive the server.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from adain.errors import BankError
from adain.styles.bank import BANK_PREFIX, BankEntry, StyleBank, did_you_mean, pool_statistics
from adain.styles.library import available_banks, shipped_bank_path
from adain.styles.statistics import StyleStatistics

__all__ = ["StyleCatalog", "StyleExists"]


class StyleExists(Exception):
    """The user's bank has a style of that name already (and replacing was not asked for)."""


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = StyleBank.paths(path)[1].stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class StyleCatalog:
    """The banks of ``preset`` in lookup order, reloaded when their files change."""

    def __init__(self, preset: str, user_path: Path) -> None:
        self.preset = preset
        self.user_path = Path(user_path)
        self._lock = threading.Lock()
        self._signatures: tuple[Any, ...] | None = None
        self._banks: list[tuple[str, StyleBank]] = []

    def banks(self) -> list[tuple[str, StyleBank]]:
        signatures = (_signature(self.user_path), _signature(shipped_bank_path(self.preset)))
        with self._lock:
            if signatures != self._signatures:
                self._banks = available_banks(self.preset, self.user_path)
                self._signatures = signatures
            return self._banks

    def listing(self) -> list[dict[str, Any]]:
        """One object per style name (``name``, ``origin``: user or shipped, ``source``, and
        ``features``: whether it kept its features, which ``method=attention`` needs), by name."""
        seen: dict[str, dict[str, Any]] = {}
        for origin, bank in self.banks():
            for name in bank:
                if name not in seen:
                    seen[name] = {
                        "name": name,
                        "origin": origin,
                        "source": bank.entries[name].source,
                        "features": bool(getattr(bank.get(name), "features", None)),
                    }
        return [seen[name] for name in sorted(seen, key=str.lower)]

    def __len__(self) -> int:
        return len({name for _, bank in self.banks() for name in bank})

    def statistics(self, style: str) -> StyleStatistics:
        """The statistics of ``NAME`` or ``bank:NAME``.

        Raises:
            BankError: no such style in any bank.
        """
        name = style.removeprefix(BANK_PREFIX)
        banks = self.banks()
        for _, bank in banks:
            if name in bank:
                return bank.get(name)
        hint = did_you_mean(name, (known for _, bank in banks for known in bank))
        raise BankError(
            f"no style {name!r} in the {self.preset} style banks{hint} ({sum(len(b) for _, b in banks)} styles; "
            "GET /v1/styles lists them)"
        )

    def add(
        self,
        name: str,
        encoded: list[tuple[StyleStatistics, int, dict[str, Any]]],
        source: str = "",
        licence: str = "",
        style_size: int = 0,
        replace: bool = False,
    ) -> BankEntry:
        """Pool ``encoded`` images' statistics under ``name`` in the user's bank and save it.

        Raises:
            StyleExists: ``name`` is in the user's bank and ``replace`` is false.
            UsageError: an invalid name.
        """
        entry = BankEntry(
            name, source=source, licence=licence, style_size=style_size, images=[info for *_, info in encoded]
        )
        with self._lock:
            index = StyleBank.paths(self.user_path)[1]
            bank = StyleBank.load(self.user_path) if index.exists() else StyleBank(self.preset)
            if bank.preset != self.preset:
                raise BankError(f"the user bank holds {bank.preset!r} statistics, not {self.preset!r}")
            if name in bank and not replace:
                raise StyleExists(f"style {name!r} is already in the user bank (send replace=true to overwrite it)")
            bank.add(
                name, pool_statistics([(statistics, area) for statistics, area, _ in encoded]), entry, replace=replace
            )
            bank.save(self.user_path)
            self._signatures = None  # reload on next use
        return entry
