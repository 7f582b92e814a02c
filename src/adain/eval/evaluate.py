"""``adain eval``: how good is a decoder, measured against optimization on the same objective.

For each content/style pair and size, every method's output is scored with the AdaIN losses
(content at relu4_1 against the AdaIN target, mean/std style loss at relu1_1..relu4_1) through
the preset's encoder (:func:`loss_encoder_preset`: a distilled preset's teacher's, never a
student's), plus luminance SSIM to the content and wall time. Methods:

- ``content``: the unstylized content (what doing nothing scores);
- ``decoder``: one forward pass (what users get);
- extra methods, each given as a name and a stylizer (``evaluate(extra_methods=...)``,
  ``adain eval --methods``) and scored like the decoder: ``decoder-multiscale`` (the decoder
  coarse to fine, ``StylizeOptions.multiscale``; the same as ``decoder`` at sizes below 1024,
  which have no coarser level) and ``decoder-attention`` (``method="attention"``);
- ``refine-N``: N L-BFGS iterations started from the decoder's output;
- ``optimize-N``: N L-BFGS iterations started from the content (the reference).

L-BFGS outputs depend only on the encoder, the pair, the size and N, so they are cached
(``--cache``) and evaluating a new decoder costs seconds, not an hour.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from adain.errors import UsageError
from adain.eval.metrics import luminance_ssim
from adain.image.io import load_image, save_image
from adain.image.sizing import resize_image, target_size
from adain.models import CompactEncoder, VGGEncoder
from adain.ops.losses import edge_density
from adain.pipeline.optimize import AdainObjective, ObjectiveWeights, optimize_image

__all__ = [
    "EvalConfig",
    "MethodScore",
    "evaluate",
    "find_pairs",
    "loss_encoder_preset",
    "summarize",
    "summarize_by_complexity",
    "write_report",
]

#: decoder(content, style, objective) -> stylized image in [0, 1], same size as content
Stylizer = Callable[[Tensor, Tensor], Tensor]


@dataclass
class EvalConfig:
    pairs_dir: Path
    out_dir: Path
    sizes: tuple[int, ...] = (256, 512)
    lbfgs_iterations: int = 100
    refine_iterations: tuple[int, ...] = (10, 30)
    #: sizes at which the (slow) L-BFGS methods run; None: all sizes
    optimize_sizes: tuple[int, ...] | None = None
    weights: ObjectiveWeights = field(default_factory=ObjectiveWeights)
    cache_dir: Path | None = None
    limit: int | None = None


@dataclass
class MethodScore:
    pair: str
    size: int
    method: str
    content_loss: float
    style_loss: float
    ssim: float
    seconds: float
    #: the content's edge density (:func:`~adain.ops.losses.edge_density`), the complexity that
    #: ``adain train --complexity-weighting`` weights the style loss by
    content_complexity: float = 0.0


def find_pairs(pairs_dir: Path, limit: int | None = None) -> list[tuple[Path, Path]]:
    """Content i with style i, from ``pairs_dir/content`` and ``pairs_dir/style`` in sorted order."""
    suffixes = (".jpg", ".jpeg", ".png", ".webp")
    folders = [pairs_dir / "content", pairs_dir / "style"]
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(f"evaluation pairs need {folder} (content/ and style/ with matching order)")
    contents, styles = ([p for p in sorted(f.iterdir()) if p.suffix.lower() in suffixes] for f in folders)
    if not contents or len(contents) != len(styles):
        raise UsageError(
            f"need the same non-zero number of content and style images in {pairs_dir}. Got {len(contents)} and {len(styles)}"
        )
    pairs = list(zip(contents, styles))
    return pairs[:limit] if limit else pairs


def _load_at(path: Path, size: int) -> Tensor:
    rgb = load_image(path).rgb
    return resize_image(rgb, target_size(rgb.shape[2], rgb.shape[3], size=size)).clamp(0, 1)


def _score(objective: AdainObjective, image: Tensor, content: Tensor) -> tuple[float, float, float]:
    with torch.no_grad():
        losses = objective.losses(image.float())
    return float(losses["content"]), float(losses["style"]), luminance_ssim(image, content)


#: bump when the optimization changes, so cached reference outputs of an older one are not reused
OPTIMIZER_VERSION = "lbfgs-single-call-1"


def _cache_key(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in (OPTIMIZER_VERSION, *parts)).encode()).hexdigest()[:24]


def _cached_optimize(config: EvalConfig, key: str, run: Callable[[], Tensor]) -> tuple[Tensor, float]:
    """L-BFGS output and its original wall time, from the cache when present."""
    if config.cache_dir is not None:
        path = config.cache_dir / f"{key}.safetensors"
        if path.exists():
            from safetensors.torch import load_file

            stored = load_file(str(path))
            return stored["image"], float(stored["seconds"].item())
    start = time.perf_counter()
    image = run()
    seconds = time.perf_counter() - start
    if config.cache_dir is not None:
        from safetensors.torch import save_file

        config.cache_dir.mkdir(parents=True, exist_ok=True)
        save_file(
            {"image": image.contiguous(), "seconds": torch.tensor(seconds, dtype=torch.float64)},
            str(config.cache_dir / f"{key}.safetensors"),
        )
    return image, seconds


def _extra_methods(
    extra_methods: Mapping[str, Stylizer] | None, stylize_multiscale: Stylizer | None
) -> dict[str, Stylizer]:
    """``extra_methods`` checked, after ``decoder-multiscale`` when ``stylize_multiscale`` is given."""
    methods: dict[str, Stylizer] = {}
    if stylize_multiscale is not None:
        methods["decoder-multiscale"] = stylize_multiscale
    for name, stylizer in (extra_methods or {}).items():
        builtin = isinstance(name, str) and (
            name in ("content", "decoder") or name.startswith(("refine-", "optimize-"))
        )
        if not isinstance(name, str) or not name.strip() or builtin or name in methods:
            raise UsageError(
                f"extra method names must be new, non-empty method names (not content, decoder, refine-N, "
                f"optimize-N or twice). Got {name!r}"
            )
        methods[name] = stylizer
    return methods


def loss_encoder_preset(preset_name: str) -> str:
    """The preset whose encoder scores an evaluation of ``preset_name`` (its content and style
    losses, and the L-BFGS reference): its own, or a distilled preset's teacher's. A student
    (``fast``) reproduces its teacher's feature space; measured by itself, its own errors would
    not show, so it is graded where its teacher's decoders are.

    Example:
        >>> loss_encoder_preset("fast"), loss_encoder_preset("vgg16-hed")
        ('vgg16-hed', 'vgg16-hed')
    """
    from adain.weights import get_preset

    return get_preset(preset_name).teacher or preset_name


def _stderr_is_terminal() -> bool:
    return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


def evaluate(
    encoder: VGGEncoder,
    stylize: Stylizer,
    config: EvalConfig,
    encoder_id: str,
    progress: bool | None = True,
    stylize_multiscale: Stylizer | None = None,
    extra_methods: Mapping[str, Stylizer] | None = None,
) -> tuple[list[MethodScore], dict[int, list[list[Tensor]]]]:
    """Scores of every method on every pair and size; also the images, for the grid.

    Args:
        encoder: the encoder the losses are measured with (and L-BFGS optimises through): a VGG
            one, the teacher's for a distilled preset (:func:`loss_encoder_preset`); ``stylize``
            runs whichever pipeline is evaluated.
        progress: show bars on stderr: one over the pairs, naming the method being run, and
            one over the L-BFGS iterations of each ``refine-N`` and uncached ``optimize-N``
            (``None``: only when stderr is a terminal).
        stylize_multiscale: scored as the method ``decoder-multiscale`` (the same as
            ``extra_methods={"decoder-multiscale": stylize_multiscale}``, before the others).
        extra_methods: method name -> stylizer, each scored like the decoder (with its own
            time), in order after it, e.g. ``{"decoder-attention": ...}``.
    """
    from tqdm import tqdm

    if isinstance(encoder, CompactEncoder):
        raise UsageError(
            "the losses are measured with a VGG encoder: a compact student (fast) would grade itself; pass its "
            "teacher's (load_encoder(loss_encoder_preset(preset)))"
        )
    extras = _extra_methods(extra_methods, stylize_multiscale)
    show = _stderr_is_terminal() if progress is None else bool(progress)
    pairs = find_pairs(config.pairs_dir, config.limit)
    scores: list[MethodScore] = []
    images: dict[int, list[list[Tensor]]] = {}
    jobs = [(size, pair) for size in config.sizes for pair in pairs]
    bar = tqdm(jobs, desc="eval", unit="pair", disable=not show, dynamic_ncols=True)
    for size, (content_path, style_path) in bar:
        content, style = _load_at(content_path, size), _load_at(style_path, size)
        objective = AdainObjective.from_style_image(encoder, content, style, config.weights)
        name = content_path.stem
        complexity = float(edge_density(content)[0])
        row = [
            content,
            resize_image(style, (content.shape[2], round(style.shape[3] * content.shape[2] / style.shape[2]))),
        ]

        def running(method: str) -> None:
            if show:
                bar.set_postfix_str(f"{name} at {size}: {method}")

        def record(method: str, image: Tensor, seconds: float) -> None:
            content_loss, style_loss, ssim = _score(objective, image, content)
            scores.append(MethodScore(name, size, method, content_loss, style_loss, ssim, seconds, complexity))
            row.append(image)

        record("content", content, 0.0)
        running("decoder")
        start = time.perf_counter()
        with torch.inference_mode():
            stylized = stylize(content, style)
        record("decoder", stylized, time.perf_counter() - start)
        decoder_seconds = scores[-1].seconds
        for method, extra in extras.items():
            running(method)
            start = time.perf_counter()
            with torch.inference_mode():
                extra_image = extra(content, style)
            record(method, extra_image, time.perf_counter() - start)
        for iterations in config.refine_iterations:
            running(f"refine-{iterations}")
            start = time.perf_counter()
            refined = optimize_image(objective, stylized, iterations, progress=show)
            record(f"refine-{iterations}", refined, decoder_seconds + time.perf_counter() - start)
        if config.lbfgs_iterations and (config.optimize_sizes is None or size in config.optimize_sizes):
            running(f"optimize-{config.lbfgs_iterations}")
            key = _cache_key(
                encoder_id, content_path.name, style_path.name, size, config.lbfgs_iterations, asdict(config.weights)
            )
            optimized, seconds = _cached_optimize(
                config, key, lambda: optimize_image(objective, content, config.lbfgs_iterations, progress=show)
            )
            record(f"optimize-{config.lbfgs_iterations}", optimized, seconds)
        images.setdefault(size, []).append(row)
    return scores, images


def summarize(scores: list[MethodScore]) -> list[dict[str, float | int | str]]:
    """Mean of each metric per (size, method), in first-seen order, and the median losses.

    The medians are there because a mean over a dozen pairs can belong to one of them (on
    ``../shared/data/val`` one pair was 45% of the decoder's mean style loss).
    """
    groups: dict[tuple[int, str], list[MethodScore]] = {}
    for score in scores:
        groups.setdefault((score.size, score.method), []).append(score)
    return [
        {
            "size": size,
            "method": method,
            "pairs": len(group),
            "content_loss": float(np.mean([s.content_loss for s in group])),
            "style_loss": float(np.mean([s.style_loss for s in group])),
            "ssim": float(np.mean([s.ssim for s in group])),
            "seconds": float(np.mean([s.seconds for s in group])),
            "content_loss_median": float(np.median([s.content_loss for s in group])),
            "style_loss_median": float(np.median([s.style_loss for s in group])),
        }
        for (size, method), group in groups.items()
    ]


def summarize_by_complexity(scores: list[MethodScore]) -> list[dict[str, float | int | str]]:
    """Means per (size, method) over the simpler and the more complex half of the pairs.

    The halves split at the median content edge density of each size (a middle pair, with an odd
    count, goes to neither). This is where complexity-weighted training shows: it lowers the style
    loss's weight on busy contents, so their content loss and SSIM should move, not the others'.
    """
    rows: list[dict[str, float | int | str]] = []
    for size in dict.fromkeys(s.size for s in scores):
        at_size = [s for s in scores if s.size == size]
        pairs = sorted({(s.content_complexity, s.pair) for s in at_size})
        half = len(pairs) // 2
        halves = {"simpler": {p for _, p in pairs[:half]}, "more complex": {p for _, p in pairs[len(pairs) - half :]}}
        for method in dict.fromkeys(s.method for s in at_size):
            for label, members in halves.items():
                group = [s for s in at_size if s.method == method and s.pair in members]
                if group:
                    rows.append(
                        {
                            "size": size,
                            "method": method,
                            "half": label,
                            "pairs": len(group),
                            "content_complexity": float(np.mean([s.content_complexity for s in group])),
                            "content_loss": float(np.mean([s.content_loss for s in group])),
                            "style_loss": float(np.mean([s.style_loss for s in group])),
                            "ssim": float(np.mean([s.ssim for s in group])),
                        }
                    )
    return rows


def _grid(rows: list[list[Tensor]], height: int = 160) -> Tensor:
    from adain.image.sizing import resize_image as resize

    lines = []
    for row in rows:
        cells = [
            resize(image.float(), (height, max(1, round(image.shape[3] * height / image.shape[2])))).clamp(0, 1)
            for image in row
        ]
        lines.append(torch.cat(cells, dim=3))
    width = max(line.shape[3] for line in lines)
    lines = [torch.nn.functional.pad(line, (0, width - line.shape[3]), value=1.0) for line in lines]
    return torch.cat(lines, dim=2)


def write_report(
    scores: list[MethodScore], images: dict[int, list[list[Tensor]]], config: EvalConfig, header: dict[str, object]
) -> dict[str, Path]:
    """results.json, results.md and one grid PNG per size in ``config.out_dir``."""
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(scores)
    by_complexity = summarize_by_complexity(scores)
    (out / "results.json").write_text(
        json.dumps(
            {**header, "summary": summary, "by_complexity": by_complexity, "pairs": [asdict(s) for s in scores]},
            indent=2,
            default=str,
        )
        + "\n"
    )
    methods = list(dict.fromkeys(s.method for s in scores))
    lines = [
        "# adain eval",
        "",
        *(f"- {k}: {v}" for k, v in header.items()),
        "",
        "## Means",
        "",
        "| size | method | content loss | style loss | SSIM (luma) | seconds | median content / style loss |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['size']} | {r['method']} | {r['content_loss']:.1f} | {r['style_loss']:.1f} | {r['ssim']:.3f} | {r['seconds']:.2f} | "
        f"{r['content_loss_median']:.1f} / {r['style_loss_median']:.1f} |"
        for r in summary
    ]
    if by_complexity:
        lines += [
            "",
            "## By content complexity (edge density; halves split at the median)",
            "",
            "| size | method | half | mean edge density | content loss | style loss | SSIM (luma) |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['size']} | {r['method']} | {r['half']} | {r['content_complexity']:.4f} | {r['content_loss']:.1f} | "
            f"{r['style_loss']:.1f} | {r['ssim']:.3f} |"
            for r in by_complexity
        ]
    lines += [
        "",
        "## Per pair",
        "",
        "| size | pair | edge density | " + " | ".join(f"{m} (content / style)" for m in methods) + " |",
        "|---|---|---|" + "---|" * len(methods),
    ]
    by_pair: dict[tuple[int, str], dict[str, MethodScore]] = {}
    for s in scores:
        by_pair.setdefault((s.size, s.pair), {})[s.method] = s
    for (size, pair), entries in by_pair.items():
        cells = [
            f"{entries[m].content_loss:.1f} / {entries[m].style_loss:.1f}" if m in entries else "" for m in methods
        ]
        complexity = next(iter(entries.values())).content_complexity
        lines.append(f"| {size} | {pair} | {complexity:.4f} | " + " | ".join(cells) + " |")
    lines += ["", "Grid columns: content, style, " + ", ".join(methods) + "."]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    paths = {"json": out / "results.json", "markdown": out / "results.md"}
    for size, rows in images.items():
        paths[f"grid-{size}"] = out / f"grid_{size}.png"
        save_image(_grid(rows), paths[f"grid-{size}"])
    return paths
