"""Style banks: named style statistics, so a known style costs nothing to apply.

A bank is two files for one encoder preset: ``<name>.safetensors`` (per style, per tap, the
channel means and stds: ``"<style>/<tap>.mean"``) and ``<name>.json`` (an index: preset, and
per style its source, licence notes, the images' sha256 and the size they were encoded at).
Statistics depend on the encoder, so a bank refuses a pipeline of another preset.

Several images under one name are pooled (their features taken as one set: means weighted by
area, variances combined with the spread of the means), so a style can be described by a few
examples of an artist's work.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from adain._files import atomic_output
from adain.errors import BankError, UsageError
from adain.styles.statistics import StyleStatistics

__all__ = ["BANK_PREFIX", "BankEntry", "StyleBank", "pool_statistics", "valid_style_name"]

#: ``--style bank:NAME`` names a bank style instead of an image file.
BANK_PREFIX = "bank:"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def valid_style_name(name: str) -> str:
    if not _NAME.match(name):
        raise UsageError(
            f"style name {name!r} must start with a letter or digit and use only letters, digits, '.', '_' or '-' (max 100)"
        )
    return name


@dataclass
class BankEntry:
    name: str
    source: str = ""
    licence: str = ""
    images: list[dict[str, Any]] = field(default_factory=list)  # file name, sha256, encoded size
    style_size: int = 0
    created: str = ""


def pool_statistics(items: list[tuple[StyleStatistics, int]]) -> StyleStatistics:
    """Statistics of several images' features taken together; ``items`` are (statistics, pixel count at the tap).

    With one image this returns its statistics unchanged (so a bank style equals its image).
    """
    if len(items) == 1:
        return items[0][0]
    means, stds = {}, {}
    for tap in items[0][0].taps:
        weights = torch.tensor([float(count) for _, count in items]).view(-1, 1, 1, 1)
        weights = weights / weights.sum()
        tap_means = torch.cat([s.means[tap] for s, _ in items])
        tap_vars = torch.cat([s.stds[tap].pow(2) for s, _ in items])
        mean = (weights * tap_means).sum(0, keepdim=True)
        variance = (weights * (tap_vars + tap_means.pow(2))).sum(0, keepdim=True) - mean.pow(2)
        means[tap], stds[tap] = mean, variance.clamp_min(0).sqrt()
    return StyleStatistics(means, stds, items[0][0].preset)


class StyleBank:
    """A bank in memory; :meth:`load` and :meth:`save` move it to and from its two files."""

    def __init__(
        self,
        preset: str,
        entries: dict[str, BankEntry] | None = None,
        statistics: dict[str, StyleStatistics] | None = None,
    ) -> None:
        self.preset = preset
        self.entries: dict[str, BankEntry] = dict(entries or {})
        self.statistics: dict[str, StyleStatistics] = dict(statistics or {})

    # -- files ---------------------------------------------------------------------------------
    @staticmethod
    def paths(path: Path) -> tuple[Path, Path]:
        """``(tensors, index)`` for a bank path given with or without a suffix."""
        stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
        return stem.with_suffix(".safetensors"), stem.with_suffix(".json")

    @classmethod
    def load(cls, path: Path) -> StyleBank:
        tensors_path, index_path = cls.paths(Path(path))
        if not index_path.exists():
            raise BankError(f"no style bank at {index_path}")
        try:
            index = json.loads(index_path.read_text())
            tensors = load_file(str(tensors_path)) if tensors_path.exists() else {}
        except (OSError, json.JSONDecodeError, SafetensorError) as error:
            raise BankError(f"cannot read style bank {index_path}: {error}") from None
        preset = index.get("preset")
        if not isinstance(preset, str) or not isinstance(index.get("styles"), dict):
            raise BankError(f"{index_path} is not a style bank index (needs 'preset' and 'styles')")
        bank = cls(preset)
        for name, entry in index["styles"].items():
            prefix = f"{name}/"
            own = {key[len(prefix) :]: value for key, value in tensors.items() if key.startswith(prefix)}
            if not own:
                raise BankError(f"style {name!r} of {index_path} has no statistics in {tensors_path}")
            bank.entries[name] = BankEntry(**{k: v for k, v in entry.items() if k in BankEntry.__dataclass_fields__})
            bank.statistics[name] = StyleStatistics.from_tensors(own, preset)
        return bank

    def save(self, path: Path) -> None:
        """Write both files atomically (temporary names, then rename)."""
        tensors_path, index_path = self.paths(Path(path))
        tensors_path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {
            f"{name}/{key}": value
            for name in sorted(self.statistics)
            for key, value in self.statistics[name].to_tensors().items()
        }
        index = {
            "format": "adain-style-bank/1",
            "preset": self.preset,
            "styles": {name: asdict(self.entries[name]) for name in sorted(self.entries)},
        }
        for target, write in (
            (tensors_path, lambda tmp: save_file(tensors, tmp, metadata={"preset": self.preset})),
            (index_path, lambda tmp: Path(tmp).write_text(json.dumps(index, indent=1) + "\n")),
        ):
            with atomic_output(target, mode=0o644) as tmp:
                write(str(tmp))

    # -- styles --------------------------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self.statistics

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.statistics))

    def __len__(self) -> int:
        return len(self.statistics)

    def get(self, name: str) -> StyleStatistics:
        if name not in self.statistics:
            raise BankError(f"no style {name!r} in the bank ({len(self)} styles; see `adain bank list`)")
        return self.statistics[name]

    def add(self, name: str, statistics: StyleStatistics, entry: BankEntry, replace: bool = False) -> None:
        valid_style_name(name)
        if statistics.preset is not None and statistics.preset != self.preset:
            raise UsageError(f"statistics from preset {statistics.preset!r} cannot go into a {self.preset!r} bank")
        if name in self.statistics and not replace:
            raise UsageError(f"style {name!r} is already in the bank (use --replace to overwrite it)")
        entry.name = name
        entry.created = entry.created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.entries[name] = entry
        self.statistics[name] = StyleStatistics(statistics.means, statistics.stds, self.preset)

    def remove(self, name: str) -> None:
        self.get(name)
        del self.statistics[name], self.entries[name]

    def merge(self, other: StyleBank, replace: bool = False) -> list[str]:
        """Add every style of ``other`` (same preset); returns the names added."""
        if other.preset != self.preset:
            raise UsageError(f"cannot import a {other.preset!r} bank into a {self.preset!r} bank")
        clashes = sorted(set(other.statistics) & set(self.statistics))
        if clashes and not replace:
            raise UsageError(f"styles already in the bank: {', '.join(clashes[:5])} (use --replace)")
        for name in other:
            self.entries[name] = other.entries[name]
            self.statistics[name] = other.statistics[name]
        return list(other)

    def subset(self, names: list[str]) -> StyleBank:
        return StyleBank(self.preset, {n: self.entries[n] for n in names}, {n: self.get(n) for n in names})
