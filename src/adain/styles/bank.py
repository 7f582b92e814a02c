"""Style banks: named style statistics, so a known style costs nothing to apply.

A bank is two files for one encoder preset: ``<name>.safetensors`` (per style, per tap, the
channel means and stds: ``"<style>/<tap>.mean"``) and ``<name>.json`` (an index: preset, and
per style its source, licence notes, the images' sha256 and the size they were encoded at).
Statistics depend on the encoder, so a bank refuses a pipeline of another preset. A style added
with ``--features`` also keeps its features at up to 2,048 relu4_1 positions, every tap
(``"<style>/<tap>.features"``, fp16, ~4 MB), which ``method="attention"`` needs
(:mod:`adain.styles.features`).

Several images under one name are pooled (their features taken as one set: means weighted by
area, variances combined with the spread of the means), so a style can be described by a few
examples of an artist's work.

A bank file may come from anyone (``adain bank import``), so :meth:`StyleBank.load` trusts
nothing in it: both files are stat-ed before they are opened (a FIFO would block), the index must
be a JSON object of the expected shape, every style name obeys the rules of ``adain bank add``
(:func:`valid_style_name`: no ``../../evil``, no newline), the safetensors header is checked as
the weights' are, and every style's statistics must be floating, finite, of each tap's width,
with no tensor left over. Each refusal is one :class:`~adain.errors.BankError` naming the file.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from adain._files import publish, temporary_beside
from adain.errors import AdainError, BankError, OutputError, PresetError, UsageError
from adain.models import TAP_CHANNELS
from adain.styles.features import FEATURES_SUFFIX, StyleFeatures, pool_features
from adain.styles.statistics import StyleStatistics
from adain.weights.presets import get_preset
from adain.weights.store import check_tensor, read_json_file, read_safetensors_header

__all__ = [
    "BANK_FORMAT",
    "BANK_PREFIX",
    "BankEntry",
    "StyleBank",
    "did_you_mean",
    "pool_statistics",
    "similar_names",
    "valid_style_name",
]

#: ``--style bank:NAME`` names a bank style instead of an image file.
BANK_PREFIX = "bank:"
#: What a bank index says it is (``"format"``); an index without it is read as this format.
BANK_FORMAT = "adain-style-bank/1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def valid_style_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UsageError(
            f"style name {name!r} must start with a letter or digit and use only letters, digits, '.', '_' or '-' (max 100)"
        )
    return name


def similar_names(name: str, names: Iterable[str], limit: int = 3) -> list[str]:
    """The style names a mistyped ``name`` most likely meant, best first (at most ``limit``).

    Names that ``name`` begins (``starry`` -> ``starry-night-google``), then those it is part of,
    then the closest spellings (:func:`difflib.get_close_matches`: ``candi`` -> ``candy``); case
    is ignored.

    Example:
        >>> similar_names("starry", ["candy", "starry-night-google", "the-scream"])
        ['starry-night-google']
        >>> similar_names("candi", ["candy", "starry-night-google"])
        ['candy']
        >>> similar_names("zzz", ["candy"])
        []
    """
    by_lower = {candidate.lower(): candidate for candidate in sorted(set(names), key=str.lower)}
    wanted = name.lower()
    begins = [low for low in by_lower if low.startswith(wanted)]
    contains = [low for low in by_lower if wanted in low]
    close = difflib.get_close_matches(wanted, list(by_lower), n=limit, cutoff=0.6)
    found = list(dict.fromkeys(begins + contains + close))
    return [by_lower[low] for low in found[:limit]] if wanted else []


def did_you_mean(name: str, names: Iterable[str]) -> str:
    """``"; did you mean bank:X or bank:Y?"`` for the names :func:`similar_names` finds, else ``""``.

    Example:
        >>> did_you_mean("starry", ["candy", "starry-night-google"])
        '; did you mean bank:starry-night-google?'
    """
    matches = [BANK_PREFIX + match for match in similar_names(name, names)]
    if not matches:
        return ""
    listed = matches[0] if len(matches) == 1 else ", ".join(matches[:-1]) + " or " + matches[-1]
    return f"; did you mean {listed}?"


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
    When every image kept its features (:class:`~adain.styles.features.StyleFeatures`), the
    pooled style keeps their positions together (:func:`~adain.styles.features.pool_features`).
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
    return pool_features(StyleStatistics(means, stds, items[0][0].preset), [statistics for statistics, _ in items])


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
        """``(tensors, index)`` for a bank path given with or without a suffix.

        Raises:
            UsageError: the path has no file name (``""``, ``.``, ``/``).
        """
        path = Path(path)
        if path.name in ("", ".", ".."):
            raise UsageError(f"a style bank path needs a file name (NAME.safetensors or NAME.json). Got {str(path)!r}")
        stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
        return stem.with_suffix(".safetensors"), stem.with_suffix(".json")

    @classmethod
    def load(cls, path: Path) -> StyleBank:
        """Read a bank's two files, checking everything in them (see the module's docstring).

        Raises:
            BankError: no index at ``path``, or anything wrong in either file (named).
        """
        tensors_path, index_path = cls.paths(Path(path))
        if not os.path.lexists(index_path):
            raise BankError(f"no style bank at {index_path}")
        index = read_json_file(index_path, "style bank index", BankError)
        if not isinstance(index, dict):
            raise BankError(
                f"{index_path} is not a style bank index: a JSON {type(index).__name__}, not an object "
                "(needs 'preset' and 'styles')"
            )
        if index.get("format", BANK_FORMAT) != BANK_FORMAT:
            raise BankError(f"{index_path} is not a style bank index of format {BANK_FORMAT!r}: {index['format']!r}")
        preset, styles = index.get("preset"), index.get("styles")
        if not isinstance(preset, str) or not isinstance(styles, dict):
            raise BankError(f"{index_path} is not a style bank index (needs 'preset' and 'styles')")
        try:
            get_preset(preset)
        except PresetError:
            raise BankError(f"{index_path} holds statistics of an unknown preset {preset!r}") from None
        entries = {name: _entry_from_index(name, entry, index_path) for name, entry in styles.items()}
        tensors: dict[str, torch.Tensor] = {}
        if styles or os.path.lexists(tensors_path):
            read_safetensors_header(tensors_path, "style bank", BankError)
            try:
                tensors = load_file(str(tensors_path))
            except (SafetensorError, OSError, ValueError) as error:
                raise BankError(f"cannot read style bank {tensors_path}: {error}") from None
        by_style: dict[str, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            name, slash, rest = key.partition("/")
            if not slash or name not in styles:
                raise BankError(f"{tensors_path} holds {key!r}, which belongs to no style of {index_path}")
            by_style.setdefault(name, {})[rest] = value
        bank = cls(preset, entries)
        for name in entries:
            own = by_style.get(name)
            if not own:
                raise BankError(f"style {name!r} of {index_path} has no statistics in {tensors_path}")
            bank.statistics[name] = _statistics_from_file(name, own, preset, tensors_path)
        return bank

    def save(self, path: Path) -> None:
        """Write both files, each under a temporary name first, then both renamed into place: a
        failure (an :class:`~adain.errors.OutputError` naming the file) leaves neither written."""
        tensors_path, index_path = self.paths(Path(path))
        for target in (tensors_path, index_path):
            try:
                mode = os.stat(target).st_mode
            except FileNotFoundError:
                continue
            except OSError as error:
                raise OutputError(f"cannot write style bank {target}: {error.strerror or error}") from None
            if not stat.S_ISREG(mode):
                raise OutputError(f"cannot write style bank {target}: something that is not a file is in the way")
        tensors = {
            f"{name}/{key}": value
            for name in sorted(self.statistics)
            for key, value in self.statistics[name].to_tensors().items()
        }
        index = {
            "format": BANK_FORMAT,
            "preset": self.preset,
            "styles": {name: asdict(self.entries[name]) for name in sorted(self.entries)},
        }
        staged: list[tuple[Path, Path]] = []
        try:
            try:
                for target in (tensors_path, index_path):
                    staged.append((temporary_beside(target), target))
                save_file(tensors, str(staged[0][0]), metadata={"preset": self.preset})
                staged[1][0].write_text(json.dumps(index, indent=1) + "\n")
                for temporary, target in staged:
                    publish(temporary, target, 0o644)
            except OSError as error:
                where = error.filename or tensors_path
                raise OutputError(f"cannot write style bank {where}: {error.strerror or error}") from None
        finally:
            for temporary, _ in staged:
                temporary.unlink(missing_ok=True)

    # -- styles --------------------------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self.statistics

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.statistics))

    def __len__(self) -> int:
        return len(self.statistics)

    def get(self, name: str) -> StyleStatistics:
        if name not in self.statistics:
            hint = did_you_mean(name, self.statistics)
            raise BankError(f"no style {name!r} in the bank{hint} ({len(self)} styles; see `adain bank list`)")
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
        if isinstance(statistics, StyleFeatures) and statistics.features:
            self.statistics[name] = StyleFeatures(statistics.means, statistics.stds, self.preset, statistics.features)
        else:
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
        """The styles ``names`` (each must be in the bank: a :class:`BankError` names the first that is not)."""
        statistics = {name: self.get(name) for name in names}
        return StyleBank(self.preset, {name: self.entries[name] for name in names}, statistics)


#: The fields of a bank index's style entry and the JSON types each must have.
_ENTRY_TYPES: dict[str, type] = {
    "name": str,
    "source": str,
    "licence": str,
    "images": list,
    "style_size": int,
    "created": str,
}
_TYPE_NAMES = {str: "a string", int: "an integer", list: "a list"}


def _entry_from_index(name: Any, entry: Any, index_path: Path) -> BankEntry:
    """One style's record of an index, checked: a valid name (as ``adain bank add`` requires), an
    object whose known fields have their types; unknown fields are ignored (a later format's)."""
    try:
        valid_style_name(name)
    except UsageError as error:
        raise BankError(f"{index_path}: {error}") from None
    if not isinstance(entry, dict):
        raise BankError(f"{index_path}: style {name!r} is a JSON {type(entry).__name__}, not an object")
    for key, kind in _ENTRY_TYPES.items():
        value = entry.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise BankError(f"{index_path}: {key!r} of style {name!r} must be {_TYPE_NAMES[kind]}. Got {value!r}")
    if entry.get("name", name) != name:
        raise BankError(f"{index_path}: style {name!r} calls itself {entry['name']!r}")
    if entry.get("style_size", 0) < 0 or not all(isinstance(image, dict) for image in entry.get("images", [])):
        raise BankError(f"{index_path}: style {name!r} has a negative style_size or images that are not objects")
    fields = {key: entry[key] for key in _ENTRY_TYPES if entry.get(key) is not None}
    return BankEntry(**{**fields, "name": name})


def _statistics_from_file(
    name: str, tensors: dict[str, torch.Tensor], preset: str, tensors_path: Path
) -> StyleStatistics:
    """One style's statistics from its tensors in a bank file, each floating, finite and as wide as its tap."""
    what = f"style {name!r} in {tensors_path}"
    try:
        for key, value in tensors.items():
            check_tensor(key, value, what, BankError)
        if any(key.endswith(FEATURES_SUFFIX) for key in tensors):  # kept by `adain bank add --features`
            statistics = StyleFeatures.from_tensors(tensors, preset)
        else:
            statistics = StyleStatistics.from_tensors(tensors, preset)
    except AdainError as error:
        if isinstance(error, BankError):
            raise
        raise BankError(f"{what}: {error}") from None
    for tap in statistics.taps:
        width = statistics.means[tap].shape[1]
        if width != TAP_CHANNELS[tap]:
            raise BankError(f"{what}: {tap} has {width} channels; the encoder's {tap} has {TAP_CHANNELS[tap]}")
    return statistics
