"""Reference networks written out layer by layer, as the published weight files index them.

* :func:`adain_vgg` and :func:`adain_decoder`: pytorch-AdaIN's ``net.vgg`` and ``net.decoder``
  (naoto0804/pytorch-AdaIN, net.py): a leading 1x1 conv, reflection padding, ceil-mode pooling.
  ``vgg_normalised.pth`` and ``decoder.pth`` are their state dicts.
* :func:`torchvision_vgg19_features`: torchvision's ``vgg19().features`` (zero padding, floor
  pooling); its ImageNet state dict names these ``features.I``.

Tests compare adain's modules, loaded from files in these layouts, with these Sequentials, so a
wrong index map or a wrong padding or pooling mode shows up as different outputs. Loaded by path
from the conftests (tests are imported with ``--import-mode=importlib``).
"""

from __future__ import annotations

import torch
from torch import nn

#: pytorch-AdaIN's encoder slices: enc_1..enc_4 = vgg[:4], vgg[4:11], vgg[11:18], vgg[18:31].
ADAIN_TAP_SLICES = {"relu1_1": (0, 4), "relu2_1": (4, 11), "relu3_1": (11, 18), "relu4_1": (18, 31)}

#: Where each tap ends in torchvision's vgg19 features (index after its ReLU).
TORCHVISION_TAP_ENDS = {"relu1_1": 2, "relu2_1": 7, "relu3_1": 12, "relu4_1": 21}

#: Decoder.pth's conv indices.
ADAIN_DECODER_CONV_INDICES = (1, 5, 8, 11, 14, 18, 21, 25, 28)


def _pad() -> nn.Module:
    return nn.ReflectionPad2d((1, 1, 1, 1))


def _pool() -> nn.Module:
    return nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True)


def adain_vgg() -> nn.Sequential:
    """pytorch-AdaIN's normalised VGG-19, all 53 layers (the file holds them all; training uses [:31])."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, (1, 1))]
    widths = [
        (3, 64),
        (64, 64),
        "pool",
        (64, 128),
        (128, 128),
        "pool",
        (128, 256),
        (256, 256),
        (256, 256),
        (256, 256),
        "pool",
        (256, 512),
        (512, 512),
        (512, 512),
        (512, 512),
        "pool",
        (512, 512),
        (512, 512),
        (512, 512),
        (512, 512),
    ]
    for item in widths:
        if item == "pool":
            layers.append(_pool())
        else:
            cin, cout = item
            layers += [_pad(), nn.Conv2d(cin, cout, (3, 3)), nn.ReLU()]
    return nn.Sequential(*layers)


def adain_decoder() -> nn.Sequential:
    """pytorch-AdaIN's decoder, 29 layers; convs at :data:`ADAIN_DECODER_CONV_INDICES`."""
    up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
    return nn.Sequential(
        _pad(),
        nn.Conv2d(512, 256, (3, 3)),
        nn.ReLU(),
        up(),
        _pad(),
        nn.Conv2d(256, 256, (3, 3)),
        nn.ReLU(),
        _pad(),
        nn.Conv2d(256, 256, (3, 3)),
        nn.ReLU(),
        _pad(),
        nn.Conv2d(256, 256, (3, 3)),
        nn.ReLU(),
        _pad(),
        nn.Conv2d(256, 128, (3, 3)),
        nn.ReLU(),
        up(),
        _pad(),
        nn.Conv2d(128, 128, (3, 3)),
        nn.ReLU(),
        _pad(),
        nn.Conv2d(128, 64, (3, 3)),
        nn.ReLU(),
        up(),
        _pad(),
        nn.Conv2d(64, 64, (3, 3)),
        nn.ReLU(),
        _pad(),
        nn.Conv2d(64, 3, (3, 3)),
    )


def torchvision_vgg19_features() -> nn.Sequential:
    """torchvision's ``vgg19().features`` (37 layers, convs at 0, 2, 5, 7, 10, ..., 34)."""
    config = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
    layers: list[nn.Module] = []
    in_channels = 3
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_channels = item
    return nn.Sequential(*layers)


def adain_taps(vgg: nn.Sequential, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """pytorch-AdaIN's ``encode_with_intermediate``: the image goes in as RGB [0, 1] as is."""
    taps, x = {}, image
    for name, (start, stop) in ADAIN_TAP_SLICES.items():
        x = vgg[start:stop](x)
        taps[name] = x
    return taps


def torchvision_taps(features: nn.Sequential, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """torchvision's features on an ImageNet-normalised RGB [0, 1] image."""
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x, start, taps = (image - mean) / std, 0, {}
    for name, stop in TORCHVISION_TAP_ENDS.items():
        x = features[start:stop](x)
        taps[name] = x
        start = stop
    return taps


def random_classifier_state() -> dict[str, torch.Tensor]:
    """torchvision's classifier keys with stand-in shapes (the real 25088x4096 matrix is 400 MB;
    the converter must ignore these keys whatever their shapes)."""
    return {
        "classifier.0.weight": torch.randn(8, 16),
        "classifier.0.bias": torch.randn(8),
        "classifier.3.weight": torch.randn(8, 8),
        "classifier.3.bias": torch.randn(8),
        "classifier.6.weight": torch.randn(10, 8),
        "classifier.6.bias": torch.randn(10),
    }
