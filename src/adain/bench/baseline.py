"""The paper's pipeline as its reference code runs it: fp32, eager, NCHW, nothing cached but
the style statistics — the yardstick ``adain bench`` reports ratios against.

Written from pytorch-AdaIN's ``net.py``/``function.py``/``test.py`` (two ``nn.Sequential``
stacks, ``calc_mean_std`` with ``var + eps``), loaded with the same weights as our pipeline so
both compute the same function.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from adain.models import Decoder, VGGEncoder

__all__ = ["PaperBaseline"]


def calc_mean_std(feat: Tensor, eps: float = 1e-5) -> tuple[Tensor, Tensor]:
    size = feat.size()
    n, c = size[:2]
    feat_var = feat.view(n, c, -1).var(dim=2) + eps
    feat_std = feat_var.sqrt().view(n, c, 1, 1)
    feat_mean = feat.view(n, c, -1).mean(dim=2).view(n, c, 1, 1)
    return feat_mean, feat_std


def adaptive_instance_normalization(content_feat: Tensor, style_mean: Tensor, style_std: Tensor) -> Tensor:
    size = content_feat.size()
    content_mean, content_std = calc_mean_std(content_feat)
    normalized = (content_feat - content_mean.expand(size)) / content_std.expand(size)
    return normalized * style_std.expand(size) + style_mean.expand(size)


class PaperBaseline:
    """``vgg`` and ``decoder`` as plain Sequentials in fp32, NCHW, eager."""

    def __init__(self, encoder: VGGEncoder, decoder: Decoder) -> None:
        architecture = encoder.architecture
        layers: list[nn.Module] = []
        norm = encoder.normalize_input
        self.normalize = norm
        if encoder.input_1x1 is not None:
            layers.append(encoder.input_1x1)
        previous_block = 1
        for name, conv in encoder.convs.items():
            block = int(name[4])
            if block != previous_block:
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=architecture.pool_ceil_mode))
                previous_block = block
            if architecture.padding_mode == "reflect":
                layers += [nn.ReflectionPad2d(1), conv]
            else:
                layers.append(nn.Conv2d(conv.in_channels, conv.out_channels, 3, padding=1))
                layers[-1].load_state_dict(conv.state_dict())
            layers.append(nn.ReLU())
        self.vgg = nn.Sequential(*layers).float().eval()
        # the paper's decoder Sequential: same layers, ReLUs not in place (ours are)
        self.decoder = nn.Sequential(*[nn.ReLU() if isinstance(layer, nn.ReLU) else layer for layer in decoder.layers])
        self.decoder.float().eval()

    @torch.no_grad()
    def style_statistics(self, style: Tensor) -> tuple[Tensor, Tensor]:
        return calc_mean_std(self.vgg(self.normalize(style)))

    @torch.no_grad()
    def __call__(self, content: Tensor, style_mean: Tensor, style_std: Tensor, alpha: float = 1.0) -> Tensor:
        content_feat = self.vgg(self.normalize(content))
        feat = adaptive_instance_normalization(content_feat, style_mean, style_std)
        feat = feat * alpha + content_feat * (1 - alpha)
        return self.decoder(feat)
