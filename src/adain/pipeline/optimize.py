"""Stylization by optimization: L-BFGS on the image for the AdaIN objective (Gatys-style).

The decoder is trained to minimise ``content_weight * content + style_weight * style`` in one
forward pass; here the same objective is minimised directly on the pixels. It is the quality
reference the decoder is measured against (``adain eval``), a slow high-quality method
(``adain stylize --method optimize``) and, started from the decoder's output, a refinement
(``--refine N``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from adain.errors import UsageError
from adain.models import VGGEncoder
from adain.ops.losses import content_loss, style_loss_from_statistics
from adain.ops.statistics import adain_from_statistics, channel_mean_std
from adain.ops.taps import TAPS

__all__ = ["AdainObjective", "ObjectiveWeights", "optimize_image", "reference_lbfgs"]


@dataclass(frozen=True)
class ObjectiveWeights:
    """The weights of the AdaIN objective (the paper's: content 1, style 10)."""

    content_weight: float = 1.0
    style_weight: float = 10.0


class AdainObjective:
    """The AdaIN objective: relu4_1 features near ``target``, style statistics near the style's.

    Args:
        encoder: the preset's encoder.
        target: the relu4_1 features to reach, ``(1, 512, h, w)`` (the AdaIN output, possibly
            blended with the content's features by alpha).
        style_means, style_stds: ``{tap: (1, C, 1, 1)}`` for relu1_1..relu4_1.
    """

    def __init__(
        self,
        encoder: VGGEncoder,
        target: Tensor,
        style_means: dict[str, Tensor],
        style_stds: dict[str, Tensor],
        weights: ObjectiveWeights = ObjectiveWeights(),
    ) -> None:
        missing = [tap for tap in TAPS if tap not in style_means or tap not in style_stds]
        if missing:
            raise UsageError(
                f"the optimization objective needs style statistics at {', '.join(TAPS)}; missing {missing}"
            )
        self.encoder = encoder
        # clone: the inputs may be inference-mode tensors, which autograd may not save
        self.style_means = {tap: style_means[tap].detach().float().clone() for tap in TAPS}
        self.style_stds = {tap: style_stds[tap].detach().float().clone() for tap in TAPS}
        self.target = target.detach().float().clone()
        self.weights = weights

    @classmethod
    def from_statistics(
        cls,
        encoder: VGGEncoder,
        content: Tensor,
        style_means: dict[str, Tensor],
        style_stds: dict[str, Tensor],
        weights: ObjectiveWeights = ObjectiveWeights(),
    ) -> AdainObjective:
        """The paper's objective for ``content`` ``(1, 3, H, W)``: target = AdaIN(content features, style)."""
        with torch.no_grad():
            content_features = encoder(content.float())["relu4_1"]
            target = adain_from_statistics(
                content_features, style_means["relu4_1"].float(), style_stds["relu4_1"].float()
            )
        return cls(encoder, target, style_means, style_stds, weights)

    @classmethod
    def from_style_image(
        cls, encoder: VGGEncoder, content: Tensor, style: Tensor, weights: ObjectiveWeights = ObjectiveWeights()
    ) -> AdainObjective:
        with torch.no_grad():
            taps = encoder(style.float())
        statistics = {tap: channel_mean_std(taps[tap]) for tap in TAPS}
        return cls.from_statistics(
            encoder,
            content,
            {t: s[0] for t, s in statistics.items()},
            {t: s[1] for t, s in statistics.items()},
            weights,
        )

    def losses(self, image: Tensor) -> dict[str, Tensor]:
        """``content``, ``style`` (per the paper) and their weighted sum ``loss``, as scalars."""
        taps = self.encoder(image)
        content = content_loss(taps["relu4_1"], self.target).mean()
        style = style_loss_from_statistics(taps, self.style_means, self.style_stds).mean()
        return {
            "content": content,
            "style": style,
            "loss": self.weights.content_weight * content + self.weights.style_weight * style,
        }


def optimize_image(objective: AdainObjective, start: Tensor, iterations: int = 100, progress: bool = False) -> Tensor:
    """Run ``iterations`` L-BFGS iterations on the pixels from ``start``; returns an image in [0, 1].

    Pixels are optimised unconstrained (as Gatys et al. do) and clamped at the end; each
    iteration is one L-BFGS step with its own function evaluations.

    ``progress``: a tqdm bar on stderr over the iterations (``N/iterations``, with their rate,
    ETA and the current loss), removed when done. It can end short of ``iterations`` when
    L-BFGS spends its budget of function evaluations first (:func:`reference_lbfgs`).
    """
    if iterations < 0:
        raise UsageError(f"iterations must be >= 0. Got {iterations}")
    with torch.inference_mode(False), torch.enable_grad():
        return _run_lbfgs(objective, start, iterations, progress)


def reference_lbfgs(image: Tensor, iterations: int) -> torch.optim.LBFGS:
    """The optimizer of the reference: ``iterations`` L-BFGS iterations on ``image`` in one ``step()`` call.

    One step() call runs all iterations: L-BFGS keeps its curvature pairs and step sizes
    within a call. Calling step() once per iteration instead restarts the line search from a
    tiny first step and, on many images, stalls at the start (measured: style loss 797 -> 796
    in 20 such calls, 797 -> 15 in one call of 20 iterations). Tolerances 0: run them all, within
    a budget of 2 function evaluations per iteration.
    """
    return torch.optim.LBFGS(
        [image],
        lr=1.0,
        max_iter=iterations,
        max_eval=iterations * 2,
        history_size=50,
        tolerance_grad=0.0,
        tolerance_change=0.0,
        line_search_fn="strong_wolfe",
    )


def _run_lbfgs(objective: AdainObjective, start: Tensor, iterations: int, progress: bool) -> Tensor:
    image = start.detach().float().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    if iterations == 0:
        return image.detach().clamp(0, 1)
    optimizer = reference_lbfgs(image, iterations)
    from tqdm import tqdm

    # L-BFGS counts its iterations in the state of its parameter: "n_iter" is the iteration in
    # progress when the closure runs (0 for the initial evaluation), so n_iter - 1 are complete
    state = optimizer.state[image]
    with tqdm(total=iterations, desc="L-BFGS", unit="it", disable=not progress, leave=False, dynamic_ncols=True) as bar:

        def closure() -> Tensor:
            optimizer.zero_grad()
            loss = objective.losses(image)["loss"]
            loss.backward()
            if not bar.disable:
                # float(): L-BFGS reads the loss as a float right after this call anyway
                bar.set_postfix(loss=f"{float(loss.detach()):.4g}", refresh=False)
                bar.update(max(0, state.get("n_iter", 0) - 1) - bar.n)
            return loss

        optimizer.step(closure)
        if not bar.disable:
            bar.update(state.get("n_iter", 0) - bar.n)  # the last iteration ends without a closure call
            bar.refresh()
    return image.detach().clamp(0, 1)
