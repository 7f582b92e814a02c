"""The fastest way to run the networks on this machine: measured once, cached, used by default.

``StylizationPipeline.from_preset(backend="auto")`` (the default of ``adain stylize`` and ``adain
video``) runs the encoder and decoder the way :func:`fastest_way` picks:

- on a CPU with native bf16 (AVX512-BF16 or AMX): torch bf16 channels-last, without measuring
  (measured on the 2-core Xeon of 2026-12-03, quiet: a 512x512 stylization with a cached style
  0.69 s in bf16 against 1.34 s in fp32, ``tools/attention_latency.py``);
- on any other CPU: the fastest of torch fp32 (the stored layout: ``--precision fp32``), torch
  fp32 channels-last and onnxruntime (where it is installed), timed once on a small fixed
  workload (a 256x256 content through encoder, AdaIN and decoder with a cached style: two warm
  runs, then the median of three) and cached, with each candidate's seconds, in
  ``$ADAIN_HOME/cache/fastest-way.json``; keyed by the preset, the weights (sha256), the torch and
  onnxruntime versions, the CPU (model and a hash of its flags) and the thread count, so a new
  decoder, an upgrade or another thread count measures again;
- on a GPU: torch, bf16 where it has it (no measuring).

``ADAIN_WAY`` overrides the choice: a way's name (:data:`WAY_NAMES`), ``torch`` (torch, bf16
where native: what the default was before ``auto``), ``onnxruntime``, or ``measure`` (measure
here even where bf16 is native, bf16 among the candidates). Explicit ``--backend`` or
``--precision`` options bypass all of this. ``python -m adain.pipeline.autotune PRESET`` prints
the choice as JSON (``adain bench`` reports it so).

A cache file that cannot be read or parsed is ignored and written anew; it is written to a
temporary file and renamed, so concurrent runs never see half of it (the last writer's entries
win).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from adain.errors import AdainError, UsageError
from adain.models.precision import native_bf16
from adain.pipeline.device import check_device, resolve_precision

__all__ = [
    "CACHE_NAME",
    "ENVIRONMENT_VARIABLE",
    "ONNXRUNTIME",
    "TORCH_BF16",
    "TORCH_FP32",
    "TORCH_FP32_CHANNELS_LAST",
    "WAYS",
    "WAY_NAMES",
    "WORKLOAD",
    "Choice",
    "Way",
    "Workload",
    "cache_key",
    "cache_path",
    "candidates",
    "describe_reason",
    "fastest_way",
    "measure_way",
    "onnxruntime_available",
]

logger = logging.getLogger("adain")

#: overrides the choice (see the module docstring)
ENVIRONMENT_VARIABLE = "ADAIN_WAY"
#: the cache file, under ``<home>/cache``
CACHE_NAME = "fastest-way.json"
#: the cache file's format; another one is ignored (and rewritten)
CACHE_FORMAT = 1
#: entries kept in the cache file, newest first (one per preset, weights, versions and threads)
MAX_ENTRIES = 64


@dataclass(frozen=True)
class Way:
    """One way to run the networks: a backend, a precision and (torch fp32) the weights' layout."""

    backend: str
    precision: str
    channels_last: bool = False

    @property
    def name(self) -> str:
        """``torch-bf16``, ``torch-fp32``, ``torch-fp32-channels-last`` or ``onnxruntime-fp32``
        (bf16 always runs channels-last: its name does not say it)."""
        return f"{self.backend}-{self.precision}" + self._layout("-")

    def __str__(self) -> str:
        return f"{self.backend} {self.precision}" + self._layout(" ")

    def _layout(self, separator: str) -> str:
        return f"{separator}channels-last" if self.channels_last and self.precision == "fp32" else ""


TORCH_BF16 = Way("torch", "bf16", channels_last=True)
TORCH_FP32 = Way("torch", "fp32")
TORCH_FP32_CHANNELS_LAST = Way("torch", "fp32", channels_last=True)
ONNXRUNTIME = Way("onnxruntime", "fp32")
WAYS = {way.name: way for way in (TORCH_BF16, TORCH_FP32, TORCH_FP32_CHANNELS_LAST, ONNXRUNTIME)}
#: the names ``ADAIN_WAY`` takes, beside ``torch``, ``onnxruntime`` and ``measure``
WAY_NAMES = tuple(WAYS)


@dataclass(frozen=True)
class Workload:
    """What each candidate is timed on: a ``side`` x ``side`` content with a cached style,
    ``warmup`` runs, then the median of ``repeats``."""

    side: int = 256
    warmup: int = 2
    repeats: int = 3


WORKLOAD = Workload()


@dataclass(frozen=True)
class Choice:
    """The way :func:`fastest_way` picked, and why.

    Attributes:
        way: the winner.
        how: ``"measured"`` (now), ``"cached"`` (measured before: ``seconds`` are that run's),
            ``"native-bf16"`` (not measured: bf16 wins where it is native), ``"forced"``
            (``ADAIN_WAY``) or ``"device"`` (not a CPU: torch, bf16 where the device has it).
        seconds: each candidate's median seconds on the workload (measured or cached ways only).
        errors: candidates that could not run, with the one-line reason.
        workload: what was timed.
        key: what the cache entry is keyed by; ``cache_file``: where it is.
    """

    way: Way
    how: str
    seconds: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    workload: Workload | None = None
    key: dict[str, Any] = field(default_factory=dict)
    cache_file: str | None = None
    measured_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``adain bench``'s ``auto_choice``: ``winner``, ``seconds`` and the rest."""
        return {
            "winner": self.way.name,
            "backend": self.way.backend,
            "precision": self.way.precision,
            "channels_last": self.way.channels_last,
            "how": self.how,
            "seconds": dict(self.seconds),
            "errors": dict(self.errors),
            "workload": None if self.workload is None else vars(self.workload).copy(),
            "measured_at": self.measured_at,
            "key": dict(self.key),
            "cache_file": self.cache_file,
        }

    def describe(self) -> str:
        """One line: the way and why, e.g. ``torch fp32 channels-last: fastest on this CPU, measured
        now (torch-fp32-channels-last 0.410 s, onnxruntime-fp32 0.470 s, torch-fp32 0.520 s per
        256x256 image)``, fastest first."""
        return f"{self.way}: {describe_reason(self.to_dict())}"


def describe_reason(choice: dict[str, Any]) -> str:
    """Why a choice (:meth:`Choice.to_dict`, e.g. read back from a report) is what it is, in words."""
    how = choice.get("how")
    if how in ("measured", "cached"):
        workload = choice.get("workload") or {}
        side = workload.get("side", "?")
        timed = ", ".join(
            f"{name} {seconds:.3f} s" for name, seconds in sorted(choice["seconds"].items(), key=_by_time)
        )
        failed = "".join(f"; {name} failed: {reason}" for name, reason in sorted(choice.get("errors", {}).items()))
        when = "measured now" if how == "measured" else f"measured {choice.get('measured_at') or 'before'}, cached"
        return f"fastest on this CPU, {when} ({timed} per {side}x{side} image{failed})"
    if how == "native-bf16":
        return "the CPU has native bf16 (AVX512-BF16/AMX), known to be the fastest here: not measured"
    if how == "forced":
        return f"{ENVIRONMENT_VARIABLE} asks for it: not measured"
    if how == "device":
        return "not a CPU: torch, bf16 where the device has it: not measured"
    return str(how)


def _by_time(item: tuple[str, float]) -> tuple[float, str]:
    return item[1], item[0]


def onnxruntime_available() -> bool:
    """Whether onnxruntime is installed (the onnxruntime candidate is timed only then)."""
    return importlib.util.find_spec("onnxruntime") is not None


def _onnxruntime_version() -> str | None:
    if not onnxruntime_available():
        return None
    try:
        import onnxruntime

        return str(onnxruntime.__version__)
    except Exception:  # a broken install: no candidate either (measuring it records the error)
        return "unimportable"


def _cpu_identity() -> dict[str, str]:
    """The CPU's model and a hash of its feature flags (``/proc/cpuinfo`` on Linux)."""
    model, flags = "", ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                name, _, value = line.partition(":")
                name = name.strip()
                if name in ("model name", "Model", "Hardware") and not model:
                    model = value.strip()
                elif name in ("flags", "Features") and not flags:
                    flags = " ".join(sorted(value.split()))
                if model and flags:
                    break
    except OSError:
        pass
    return {
        "machine": platform.machine(),
        "model": model or platform.processor(),
        "flags_sha256": hashlib.sha256(flags.encode()).hexdigest()[:16],
    }


def candidates(device: torch.device, measure_bf16: bool = False) -> list[Way]:
    """The ways timed on ``device`` (a CPU): torch fp32 in both layouts, onnxruntime where it is
    installed, and bf16 when ``measure_bf16`` and the CPU has it natively."""
    ways = [TORCH_FP32, TORCH_FP32_CHANNELS_LAST]
    if onnxruntime_available():
        ways.append(ONNXRUNTIME)
    if measure_bf16 and native_bf16(device):
        ways.insert(0, TORCH_BF16)
    return ways


def cache_key(
    preset: str,
    encoder: nn.Module,
    decoder: nn.Module,
    ways: Sequence[Way],
    workload: Workload = WORKLOAD,
    threads: int | None = None,
) -> dict[str, Any]:
    """What a measurement depends on: the preset, the weights (sha256 of the encoder's and the
    decoder's tensors), torch and onnxruntime versions, the CPU, the thread count, the candidates
    and the workload."""
    from adain.backends.onnx_export import weights_sha256

    return {
        "preset": preset,
        "encoder_sha256": weights_sha256(encoder)[:16],
        "decoder_sha256": weights_sha256(decoder)[:16],
        "torch": torch.__version__,
        "onnxruntime": _onnxruntime_version(),
        "cpu": _cpu_identity(),
        "threads": torch.get_num_threads() if threads is None else threads,
        "candidates": [way.name for way in ways],
        "workload": vars(workload).copy(),
    }


def _key_id(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def cache_path(home: Path | None = None) -> Path:
    """``<home or $ADAIN_HOME>/cache/fastest-way.json``."""
    if home is None:
        from adain.weights import adain_home

        home = adain_home()
    return Path(home) / "cache" / CACHE_NAME


def _read_entries(path: Path) -> dict[str, dict[str, Any]]:
    """The cache file's entries; ``{}`` for a missing, unreadable or malformed file (never raises)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, UnicodeDecodeError) as error:
        logger.info("adain: ignoring the unreadable way cache %s (%s); it will be rewritten", path, error)
        return {}
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("entries"), dict):
        logger.info("adain: ignoring the way cache %s (not this version's format); it will be rewritten", path)
        return {}
    return {k: v for k, v in data["entries"].items() if isinstance(k, str) and isinstance(v, dict)}


def _valid_entry(entry: dict[str, Any], key: dict[str, Any]) -> bool:
    seconds = entry.get("seconds")
    return (
        entry.get("key") == key
        and entry.get("winner") in key["candidates"]
        and isinstance(seconds, dict)
        and entry["winner"] in seconds
        and all(isinstance(v, (int, float)) and v > 0 for v in seconds.values())
    )


def _write_entry(path: Path, key_id: str, entry: dict[str, Any]) -> bool:
    """Add ``entry`` to the cache file (written to a temporary file, then renamed); ``False``
    when it cannot be written (the choice is still used, only not kept)."""
    from adain._files import default_mode, write_bytes_atomically

    entries = {key_id: entry, **{k: v for k, v in _read_entries(path).items() if k != key_id}}
    data = {"format": CACHE_FORMAT, "entries": dict(list(entries.items())[:MAX_ENTRIES])}
    try:
        write_bytes_atomically(path, (json.dumps(data, indent=1) + "\n").encode(), mode=default_mode())
    except OSError as error:
        logger.info("adain: cannot write the way cache %s (%s): it will be measured again next time", path, error)
        return False
    return True


def _content(side: int) -> torch.Tensor:
    """A smooth random content (like a photo, not noise), the same every time."""
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(1, 3, max(2, side // 32), max(2, side // 32), generator=generator)
    return torch.nn.functional.interpolate(coarse, size=(side, side), mode="bicubic").clamp(0, 1)


def measure_way(
    way: Way,
    encoder: nn.Module,
    decoder: nn.Module,
    preset: str,
    home: Path | None = None,
    workload: Workload = WORKLOAD,
) -> float:
    """Median seconds of one stylization of the workload (a cached style) run ``way`` on the CPU.

    Raises:
        AdainError: ``way`` cannot run here (e.g. onnxruntime without the ``onnx`` extra to export).
    """
    from adain.pipeline.stylize import StylizationPipeline

    if way.backend == "onnxruntime":
        from adain.backends import runtime_networks

        pipeline = StylizationPipeline(*runtime_networks("onnxruntime", encoder, decoder, preset, None, home), preset)
    else:
        pipeline = StylizationPipeline(
            encoder, decoder, preset, precision=way.precision, channels_last=way.channels_last
        )
    content = _content(workload.side)
    times = []
    with torch.inference_mode():
        style = pipeline.style_statistics(torch.flip(content, dims=(2, 3)))
        for index in range(workload.warmup + workload.repeats):
            start = time.perf_counter()
            pipeline(content, style, output_type="pt", size=0, max_memory_mb=None)
            if index >= workload.warmup:
                times.append(time.perf_counter() - start)
    return statistics.median(times)


def _override(value: str | None, device: torch.device) -> Way | str | None:
    """``ADAIN_WAY``'s value as a way, ``"measure"``, or None (unset)."""
    if value is None or not value.strip():
        return None
    value = value.strip().lower()
    if value == "measure":
        return value
    if value == "torch":
        return Way("torch", resolve_precision("auto", device), channels_last=native_bf16(device))
    if value == "onnxruntime":
        return ONNXRUNTIME
    if value in WAYS:
        return WAYS[value]
    raise UsageError(
        f"{ENVIRONMENT_VARIABLE}={value!r} is no way; expected one of {', '.join(WAY_NAMES)}, torch, onnxruntime "
        "or measure"
    )


def fastest_way(
    preset: str,
    device: str | torch.device = "cpu",
    encoder: nn.Module | None = None,
    decoder: nn.Module | None = None,
    home: Path | None = None,
    *,
    decoder_path: str | os.PathLike[str] | None = None,
    workload: Workload = WORKLOAD,
    override: str | None = None,
    on_measure: Callable[[str], None] | None = None,
) -> Choice:
    """The way to run ``preset``'s networks on ``device`` (see the module docstring).

    Args:
        preset, encoder, decoder: the networks (loaded from ``home``, ``decoder_path`` for the
            decoder, when not given).
        home: where the cache lives (``$ADAIN_HOME`` when None; the ONNX exports go to ``<home>/onnx``).
        workload: what each candidate is timed on.
        override: as ``ADAIN_WAY`` (read from the environment when None).
        on_measure: told in one line before a measurement (the command line prints it on stderr).

    Raises:
        UsageError: a bad ``ADAIN_WAY``.
    """
    device = check_device(device)
    forced = _override(os.environ.get(ENVIRONMENT_VARIABLE) if override is None else override, device)
    if isinstance(forced, Way):
        return _logged(Choice(forced, "forced"))
    if device.type != "cpu":
        precision = resolve_precision("auto", device)
        return _logged(Choice(Way("torch", precision, channels_last=precision == "bf16"), "device"))
    measure_bf16 = forced == "measure"
    if native_bf16(device) and not measure_bf16:
        return _logged(Choice(TORCH_BF16, "native-bf16"))
    if encoder is None or decoder is None:
        from adain.weights import load_decoder, load_encoder

        decoder = decoder if decoder is not None else load_decoder(preset, path=decoder_path, home=home)
        encoder = encoder if encoder is not None else load_encoder(preset, home=home)
    ways = candidates(device, measure_bf16)
    key = cache_key(preset, encoder, decoder, ways, workload)
    key_id = _key_id(key)
    try:
        path: Path | None = cache_path(home)
    except AdainError as error:  # an unusable ADAIN_HOME: measure, keep nothing
        logger.info("adain: no way cache (%s)", error)
        path = None
    entry = _read_entries(path).get(key_id) if path is not None else None
    if entry is not None and _valid_entry(entry, key):
        return _logged(
            Choice(
                WAYS[entry["winner"]],
                "cached",
                {name: float(s) for name, s in entry["seconds"].items()},
                {str(k): str(v) for k, v in (entry.get("errors") or {}).items()},
                workload,
                key,
                str(path),
                entry.get("measured_at"),
            )
        )
    if on_measure is not None:
        on_measure(f"measuring the fastest way to run on this CPU (once): {', '.join(way.name for way in ways)} ...")
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    for way in ways:
        try:
            seconds[way.name] = measure_way(way, encoder, decoder, preset, home, workload)
        except Exception as error:  # a candidate that cannot run here is no candidate
            errors[way.name] = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
    if not seconds:
        raise UsageError(f"no way to run the networks could be measured: {errors}")
    winner = min(seconds, key=seconds.__getitem__)
    measured_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    entry = {"key": key, "winner": winner, "seconds": seconds, "errors": errors, "measured_at": measured_at}
    kept = path is not None and _write_entry(path, key_id, entry)
    return _logged(
        Choice(WAYS[winner], "measured", seconds, errors, workload, key, str(path) if kept else None, measured_at)
    )


def _logged(choice: Choice) -> Choice:
    logger.info("adain: running %s", choice.describe())
    return choice


def main(argv: list[str] | None = None) -> int:
    """``python -m adain.pipeline.autotune PRESET`` or a JSON object ``{"preset": ..., "decoder":
    ...}``: the choice as JSON on stdout (measured and cached if need be); one line on stderr
    and exit 1 when the weights are missing."""
    args = sys.argv[1:] if argv is None else argv
    text = args[0] if args else "{}"
    request = json.loads(text) if text.startswith("{") else {"preset": text}
    from adain.weights.presets import DEFAULT_PRESET

    try:
        choice = fastest_way(request.get("preset", DEFAULT_PRESET), decoder_path=request.get("decoder"))
    except AdainError as error:
        print(error, file=sys.stderr)
        return 1
    print(json.dumps(choice.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
