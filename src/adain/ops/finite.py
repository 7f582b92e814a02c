"""Whether a tensor holds only finite values, at the cost of one sum.

Why: inputs are checked for NaN and infinity before they reach the networks (a NaN in a content
image would silently give a black output), and ``torch.isfinite(x).all()`` is three elementwise
passes and a boolean map: on the 2-core CPU (beside a training job on the other core, so
only the ratio counts), 169 ms for a 128 x 512 x 512 bf16 map against 7 ms for its sum, and 4% of a whole 1024x1024 ``fast`` stylization from a tensor.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["all_finite"]


def all_finite(tensor: Tensor) -> bool:
    """Whether every value of ``tensor`` is finite (no NaN, no infinity).

    A NaN or an infinity anywhere makes the sum NaN or infinite, so a finite sum proves the
    tensor finite; only when the sum is not finite (a bad value, or finite values large enough to
    overflow it) does the elementwise test decide. Integer and boolean tensors are finite.

    Example:
        >>> all_finite(torch.tensor([1.0, 2.0])), all_finite(torch.tensor([1.0, float("nan")]))
        (True, False)
        >>> all_finite(torch.tensor([3e38, 3e38]))  # the sum overflows, the values do not
        True
    """
    if not (tensor.is_floating_point() or tensor.is_complex()):
        return True
    if tensor.numel() == 0 or bool(torch.isfinite(tensor.sum())):
        return True
    return bool(torch.isfinite(tensor).all())
