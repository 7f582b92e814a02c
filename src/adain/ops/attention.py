"""Attention-weighted AdaIN (after AdaAttN, Liu et al., ICCV 2021): per-position style statistics.

Plain AdaIN gives every content position the style's global channel mean and std. Here each
content position attends over the style positions whose features look like its own and takes the
attention-weighted mean and std there::

    q = normalised(content), k = normalised(style)            (per channel: zero mean, unit std)
    A = softmax(cos(q, k) / temperature)                       (over style positions)
    M = A v,  S = sqrt(relu(A v^2 - M^2) + eps)                (v: the style features)
    out = S * normalised(content) + M

Similarity is the cosine of the normalised features, so ``temperature`` means the same at every
tap: small values (0.05) pick the few best-matching style positions (sky takes the style's sky),
``inf`` makes the attention uniform and gives plain AdaIN exactly. Memory is bounded: at most
``max_style_positions`` style positions (evenly spaced, deterministic) and content positions in
chunks of at most ``chunk_elements / style_positions``, so an attention map is never held whole.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from adain._checks import is_int, is_number
from adain.errors import ShapeError, UsageError
from adain.ops.statistics import DEFAULT_EPS, channel_mean_std

__all__ = [
    "DEFAULT_MAX_STYLE_POSITIONS",
    "DEFAULT_TEMPERATURE",
    "attention_adain",
    "attention_weighted_means",
    "subsample_positions",
]

#: Style positions attended over at most: half of a 512-px style image's 64x64 relu4_1 map,
#: evenly spaced. The weighted sums over them are most of attention's cost; measured on the 2-core
#: AMD EPYC (2026-12-04), 4,096 -> 2,048 took attention at 512x512 from 1.75x plain AdaIN's latency
#: to 1.26x, and changed nothing on the 12 val pairs at 512 px (content 55.0 / 55.0, style 148.2 /
#: 148.1, SSIM 0.347 / 0.347, the semantic test 41% / 41%).
DEFAULT_MAX_STYLE_POSITIONS = 2048
#: Softmax temperature on cosine similarities: sharp enough that a region attends to its match.
DEFAULT_TEMPERATURE = 0.05
#: Attention scores computed at once at most (content positions x style positions): 16 M floats, 64 MB.
DEFAULT_CHUNK_ELEMENTS = 1 << 24
#: bf16 features: the attention scores are computed in bf16 from this temperature up (the
#: pipeline's 0.2), in float32 below it (:func:`_score_dtype`)
BF16_SCORES_MIN_TEMPERATURE = 0.2


def _flat(features: Tensor, name: str) -> Tensor:
    """``(B, C, H, W)`` -> ``(B, C, H*W)``."""
    if features.dim() != 4:
        raise ShapeError(f"{name} must be (B, C, H, W). Got {tuple(features.shape)}")
    return features.flatten(2)


def _normalised(features: Tensor, eps: float) -> Tensor:
    mean, std = channel_mean_std(features, eps)
    return (features - mean) / std


def _unit_positions(normalised: Tensor) -> Tensor:
    """``(B, K, N)`` -> each position's vector scaled to unit length (cosines become dot products)."""
    return normalised / normalised.norm(dim=1, keepdim=True).clamp_min(1e-12)


def subsample_positions(features: Tensor, limit: int) -> Tensor:
    """``(B, C, H, W)`` -> ``(B, C, N)``: all ``H*W`` positions, or ``limit`` evenly spaced ones.

    Evenly spaced (not random) so that the same style gives the same result every time.

    Example:
        >>> subsample_positions(torch.arange(10.0).view(1, 1, 2, 5), 4).tolist()
        [[[0.0, 3.0, 6.0, 9.0]]]
    """
    flat = _flat(features, "features")
    count = flat.shape[2]
    if count <= limit:
        return flat
    index = torch.linspace(0, count - 1, limit, device=flat.device).round().long()
    return flat[:, :, index]


def attention_adain(
    content_features: Tensor,
    style_features: Tensor,
    temperature: float = DEFAULT_TEMPERATURE,
    max_style_positions: int = DEFAULT_MAX_STYLE_POSITIONS,
    content_keys: Tensor | None = None,
    style_keys: Tensor | None = None,
    eps: float = DEFAULT_EPS,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    content_statistics: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """AdaIN with the style's statistics weighted, per content position, by feature similarity.

    Args:
        content_features: ``(B, C, H, W)``.
        style_features: ``(B or 1, C, h, w)`` at the same tap (any size).
        temperature: of the softmax over cosine similarities; ``math.inf``: uniform attention,
            which is plain AdaIN.
        max_style_positions: style positions attended over at most (evenly spaced).
        content_keys, style_keys: what similarity is measured on, ``(B, K, H, W)`` and
            ``(B or 1, K, h, w)`` (e.g. this tap concatenated with shallower taps resized to it);
            default: the features themselves. Both or neither.
        eps: added to variances before square roots.
        chunk_elements: attention scores held at once at most (bounds memory on large images).
        content_statistics: ``(mean, std)``, each ``(B, C, 1, 1)``, to normalise the content
            with instead of its own (a tile of a large image takes the whole image's, so that
            tiles agree); default: those of ``content_features``.

    Returns:
        ``(B, C, H, W)`` in the dtype of ``content_features`` (computed in float32, or float64
        for float64 inputs).

    Raises:
        ShapeError: shapes that do not fit.
        UsageError: a temperature that is not positive, a position limit below 1.

    Example:
        >>> content = torch.tensor([0.0, 1.0, 2.0, 3.0]).view(1, 1, 2, 2)
        >>> style = torch.tensor([10.0, 10.0, 20.0, 20.0]).view(1, 1, 2, 2)
        >>> uniform = attention_adain(content, style, temperature=math.inf)  # plain AdaIN: mean 15, std 5
        >>> [round(v, 2) for v in uniform.flatten().tolist()]
        [8.29, 12.76, 17.24, 21.71]
    """
    if not is_number(temperature, above=0, finite=False):
        raise UsageError(f"attention temperature must be a positive number. Got {temperature!r}")
    if not is_int(max_style_positions, 1):
        raise UsageError(f"max_style_positions must be an integer >= 1. Got {max_style_positions!r}")
    if (content_keys is None) != (style_keys is None):
        raise UsageError("give both content_keys and style_keys, or neither")
    batch, channels, height, width = _flat(content_features, "content_features").shape[0], *content_features.shape[1:]
    if _flat(style_features, "style_features").shape[:2] not in ((batch, channels), (1, channels)):
        raise ShapeError(f"style_features must be ({batch} or 1, {channels}, h, w). Got {tuple(style_features.shape)}")
    dtype = torch.float64 if content_features.dtype == torch.float64 else torch.float32
    content = content_features.to(dtype)
    style = style_features.to(dtype)
    content_keys = content if content_keys is None else content_keys.to(dtype)
    style_keys = style if style_keys is None else style_keys.to(dtype)
    if content_keys.shape[0] != batch or content_keys.shape[2:] != content.shape[2:]:
        raise ShapeError(f"content_keys must be ({batch}, K, {height}, {width}). Got {tuple(content_keys.shape)}")
    if style_keys.dim() != 4 or style_keys.shape[1] != content_keys.shape[1] or style_keys.shape[2:] != style.shape[2:]:
        raise ShapeError(
            f"style_keys must be (B or 1, {content_keys.shape[1]}, {style.shape[2]}, {style.shape[3]}). "
            f"Got {tuple(style_keys.shape)}"
        )
    if content_statistics is None:
        content_mean, content_std = channel_mean_std(content, eps)
    else:
        content_mean, content_std = (value.to(dtype) for value in content_statistics)
    normalised_content = ((content - content_mean) / content_std).flatten(2)  # (B, C, Nc)
    if math.isinf(temperature):  # uniform attention: the style's global statistics
        style_mean, style_std = channel_mean_std(style, eps)
        out = normalised_content * style_std.flatten(2) + style_mean.flatten(2)
        return out.view(batch, channels, height, width).to(content_features.dtype)

    values = subsample_positions(style, max_style_positions)  # (Bs, C, Ns)
    keys = _unit_positions(subsample_positions(_normalised(style_keys, eps), max_style_positions))  # (Bs, K, Ns)
    queries = normalised_content if content_keys is content else _normalised(content_keys, eps).flatten(2)
    queries = _unit_positions(queries)  # (B, K, Nc)
    positions = queries.shape[2]
    step = max(1, chunk_elements // max(1, values.shape[2]))
    out = torch.empty_like(normalised_content)
    # the weighted sums of values and squares in one product: (Bs, Ns, 2C)
    stacked = torch.cat([values, values.square()], dim=1).transpose(1, 2)
    score_dtype = _score_dtype(content_features, style_features, temperature)
    scaled_queries = (queries / temperature).to(score_dtype)  # the temperature folded in: scores are logits
    keys = keys.to(score_dtype)
    for start in range(0, positions, step):
        end = min(positions, start + step)
        scores = torch.matmul(scaled_queries[:, :, start:end].transpose(1, 2), keys)  # (B, n, Ns)
        sums = torch.matmul(torch.softmax(scores, dim=-1, dtype=dtype), stacked)  # (B, n, 2C)
        mean, second = sums[..., :channels], sums[..., channels:]
        std = torch.sqrt(torch.relu(second - mean.square()) + eps)
        out[:, :, start:end] = (std * normalised_content[:, :, start:end].transpose(1, 2) + mean).transpose(1, 2)
    return out.view(batch, channels, height, width).to(content_features.dtype)


def attention_weighted_means(
    content_keys: Tensor,
    style_keys: Tensor,
    style_values: Tensor,
    temperature: float = DEFAULT_TEMPERATURE,
    max_style_positions: int = DEFAULT_MAX_STYLE_POSITIONS,
    eps: float = DEFAULT_EPS,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    content_statistics: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Each content position's attention-weighted mean of the style's values: ``A v`` with
    ``A = softmax(cos(q, k) / temperature)`` over the style positions, as in :func:`attention_adain`.

    The attention is measured once (on ``content_keys`` and ``style_keys``, e.g. the relu4_1
    features, whose similarity is semantic) and may average values of any width at the style's
    positions: stacked values of several taps (each shallower tap pooled onto the keys' grid) get
    every tap a local mean from the same, semantic, attention.

    Args:
        content_keys: ``(B, K, H, W)``.
        style_keys: ``(B or 1, K, h, w)``; ``w`` may be 1 (positions kept as ``(K, N, 1)``).
        style_values: ``(B or 1, V, h, w)``, the values at the same positions.
        temperature: of the softmax over cosine similarities; ``math.inf``: the values' plain mean.
        max_style_positions: style positions attended over at most (evenly spaced; the same ones
            for keys and values).
        eps: added to the keys' variances before square roots.
        chunk_elements: attention scores held at once at most.
        content_statistics: ``(mean, std)``, each ``(B, K, 1, 1)``, to normalise ``content_keys``
            with instead of their own (a tile, or a band of rows, takes the whole image's).

    Returns:
        ``(B, V, H, W)`` float32 (float64 for float64 inputs).

    Raises:
        ShapeError: shapes that do not fit.
        UsageError: a temperature that is not positive, a position limit below 1.

    Example:
        >>> keys = torch.tensor([[1.0, 1.0, -1.0, -1.0], [0.0, 0.1, 0.0, 0.1]]).view(1, 2, 2, 2)
        >>> values = torch.tensor([10.0, 10.0, 20.0, 20.0]).view(1, 1, 2, 2)  # by region
        >>> means = attention_weighted_means(keys, keys, values, temperature=0.05)
        >>> [round(v, 1) for v in means.flatten().tolist()]
        [10.0, 10.0, 20.0, 20.0]
        >>> attention_weighted_means(keys, keys, values, temperature=math.inf).flatten().tolist()
        [15.0, 15.0, 15.0, 15.0]
    """
    if not is_number(temperature, above=0, finite=False):
        raise UsageError(f"attention temperature must be a positive number. Got {temperature!r}")
    if not is_int(max_style_positions, 1):
        raise UsageError(f"max_style_positions must be an integer >= 1. Got {max_style_positions!r}")
    batch, _, height, width = _flat(content_keys, "content_keys").shape[0], *content_keys.shape[1:]
    _flat(style_keys, "style_keys"), _flat(style_values, "style_values")
    if style_keys.shape[0] not in (1, batch) or style_keys.shape[1] != content_keys.shape[1]:
        raise ShapeError(
            f"style_keys must be ({batch} or 1, {content_keys.shape[1]}, h, w). Got {tuple(style_keys.shape)}"
        )
    if style_values.shape[0] != style_keys.shape[0] or style_values.shape[2:] != style_keys.shape[2:]:
        raise ShapeError(
            f"style_values must be ({style_keys.shape[0]}, V, {style_keys.shape[2]}, {style_keys.shape[3]}) "
            f"like style_keys. Got {tuple(style_values.shape)}"
        )
    dtype = torch.float64 if content_keys.dtype == torch.float64 else torch.float32
    values = subsample_positions(style_values.to(dtype), max_style_positions)  # (Bs, V, Ns)
    if math.isinf(temperature):
        mean = values.mean(dim=2, keepdim=True).unsqueeze(-1)
        return mean.expand(batch, values.shape[1], height, width).clone()
    keys = _unit_positions(subsample_positions(_normalised(style_keys.to(dtype), eps), max_style_positions))
    if content_statistics is None:
        normalised = _normalised(content_keys.to(dtype), eps)
    else:
        key_mean, key_std = (value.to(dtype) for value in content_statistics)
        normalised = (content_keys.to(dtype) - key_mean) / key_std
    queries = _unit_positions(normalised.flatten(2))  # (B, K, Nc)
    # bf16 products where the scores may be bf16: a weighted mean does not cancel as a variance does
    product_dtype = _score_dtype(content_keys, style_values, temperature)
    scaled_queries = (queries / temperature).to(product_dtype)
    keys, stacked = keys.to(product_dtype), values.transpose(1, 2).to(product_dtype)  # (Bs, Ns, V)
    positions = queries.shape[2]
    step = max(1, chunk_elements // max(1, keys.shape[2]))
    out = torch.empty(batch, positions, values.shape[1], dtype=dtype, device=content_keys.device)
    for start in range(0, positions, step):
        end = min(positions, start + step)
        scores = torch.matmul(scaled_queries[:, :, start:end].transpose(1, 2), keys)  # (B, n, Ns)
        weights = torch.softmax(scores, dim=-1, dtype=dtype).to(product_dtype)
        out[:, start:end] = torch.matmul(weights, stacked)
    return out.transpose(1, 2).reshape(batch, values.shape[1], height, width)


def _score_dtype(content_features: Tensor, style_features: Tensor, temperature: float) -> torch.dtype:
    """bf16 for the attention scores of bf16 features in inference at a temperature from
    :data:`BF16_SCORES_MIN_TEMPERATURE` up; float32 (float64 for float64 features) otherwise.

    Why: the scores' product was a third of attention's time in a 512x512 bf16 stylization
    (75 ms of ~220 in float32, 20 in bf16; 2-core CPU with AMX), and cosine similarities in
    [-1, 1] lose little in bf16: each logit is off by ~0.4% of ``|q.k| / temperature``, at most 0.02
    at the pipeline's 0.2. In :func:`attention_adain` the softmax and the weighted sums stay float32: the local variance
    ``E[v^2] - E[v]^2`` cancels, and bf16 products (rounded to bf16 on output) left it 10% off
    where the attention is sharp (measured at a temperature of 0.05).
    """
    grad = torch.is_grad_enabled() and (content_features.requires_grad or style_features.requires_grad)
    if content_features.dtype == torch.bfloat16 and not grad and temperature >= BF16_SCORES_MIN_TEMPERATURE:
        return torch.bfloat16
    return torch.float64 if content_features.dtype == torch.float64 else torch.float32
