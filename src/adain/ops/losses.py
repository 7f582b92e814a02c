"""Style-transfer losses, shared by training, evaluation and the optimization method.

They live in ``ops`` (not in the models: a model returns features and images) so that the
decoder is trained, measured and compared against L-BFGS with one definition.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from adain.ops.statistics import channel_mean_std
from adain.ops.taps import TAPS

__all__ = [
    "complexity_weights",
    "content_loss",
    "edge_density",
    "gram_matrix",
    "style_loss",
    "style_loss_from_statistics",
]


def content_loss(output_features: Tensor, target: Tensor) -> Tensor:
    """Per-sample MSE at relu4_1 between the output's features and the AdaIN target, ``(B,)``."""
    return (output_features.float() - target.float()).pow(2).flatten(1).mean(1)


def gram_matrix(features: Tensor) -> Tensor:
    """``(B, C, C)`` Gram matrix normalised by the number of positions."""
    flat = features.float().flatten(2)
    return flat @ flat.transpose(1, 2) / flat.shape[2]


def style_loss_from_statistics(
    output_taps: dict[str, Tensor],
    style_means: dict[str, Tensor],
    style_stds: dict[str, Tensor],
    tap_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0),
) -> Tensor:
    """The paper's style loss against stored statistics, per sample ``(B,)``.

    Sum over relu1_1..relu4_1 of MSE(channel means) + MSE(channel stds). Taking statistics lets
    a style bank entry be scored without its image.
    """
    reference = output_taps[TAPS[0]]
    total = torch.zeros(reference.shape[0], device=reference.device)
    for tap, weight in zip(TAPS, tap_weights):
        if weight == 0:
            continue
        out_mean, out_std = channel_mean_std(output_taps[tap])
        term = (out_mean - style_means[tap]).pow(2).flatten(1).mean(1) + (out_std - style_stds[tap]).pow(2).flatten(
            1
        ).mean(1)
        total = total + weight * term
    return total


def style_loss(
    output_taps: dict[str, Tensor],
    style_taps: dict[str, Tensor],
    kind: str = "mean_std",
    tap_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0),
) -> Tensor:
    """Per-sample style loss over relu1_1..relu4_1, ``(B,)``.

    ``mean_std`` is the paper's: MSE of channel means plus MSE of channel stds per tap.
    ``gram`` matches Gram matrices instead (Gatys et al.).
    """
    if kind == "mean_std":
        statistics = {tap: channel_mean_std(style_taps[tap]) for tap in TAPS}
        return style_loss_from_statistics(
            output_taps,
            {t: m for t, (m, _) in statistics.items()},
            {t: s for t, (_, s) in statistics.items()},
            tap_weights,
        )
    reference = output_taps[TAPS[0]]
    total = torch.zeros(reference.shape[0], device=reference.device)
    for tap, weight in zip(TAPS, tap_weights):
        if weight:
            term = (gram_matrix(output_taps[tap]) - gram_matrix(style_taps[tap])).pow(2).flatten(1).mean(1)
            total = total + weight * term
    return total


def edge_density(images: Tensor) -> Tensor:
    """Mean Sobel gradient magnitude of each image's luminance, ``(B,)``: a cheap complexity measure."""
    luminance = (images.float() * torch.tensor([0.299, 0.587, 0.114], device=images.device).view(1, 3, 1, 1)).sum(
        1, keepdim=True
    )
    kernel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=images.device) / 8
    kernels = torch.stack([kernel_x, kernel_x.t()]).unsqueeze(1)
    gradients = F.conv2d(F.pad(luminance, (1, 1, 1, 1), mode="replicate"), kernels)
    return gradients.pow(2).sum(1).sqrt().flatten(1).mean(1)


def complexity_weights(content: Tensor, strength: float) -> Tensor:
    """Per-sample style-loss multipliers ``(density / mean density) ** -strength``, mean 1 over the batch."""
    density = edge_density(content).clamp_min(1e-6)
    weights = (density / density.mean()).pow(-strength)
    return weights / weights.mean()
