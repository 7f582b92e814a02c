"""The AdaIN decoder: the encoder mirrored, nearest upsampling, reflection-padded 3x3 convs,
no normalisation layers (they would undo the statistics AdaIN just set)."""

from __future__ import annotations

from torch import Tensor, nn

from adain.models.encoder import EncoderArchitecture

__all__ = ["Decoder", "decoder_conv_shapes"]


def decoder_conv_shapes(architecture: EncoderArchitecture) -> list[tuple[int, int]]:
    """``(in, out)`` channels of each decoder conv, mirroring ``architecture``.

    For the paper's VGG-19 this is its decoder exactly: 512->256, up, 3x 256->256, 256->128, up,
    128->128, 128->64, up, 64->64, 64->3.
    """
    convs_3, convs_2, convs_1 = reversed(architecture.convs_per_block)
    shapes = [(512, 256)]
    shapes += [(256, 256)] * (convs_3 - 1) + [(256, 128)]
    shapes += [(128, 128)] * (convs_2 - 1) + [(128, 64)]
    shapes += [(64, 64)] * (convs_1 - 1) + [(64, 3)]
    return shapes


class Decoder(nn.Module):
    """Maps relu4_1 features back to an RGB image (unclamped; the pipeline clamps to [0, 1]).

    Built as one ``nn.Sequential`` whose layer indices match pytorch-AdaIN's ``decoder.pth`` for
    the VGG-19 layout, so that file loads by index.
    """

    def __init__(self, architecture: EncoderArchitecture) -> None:
        super().__init__()
        shapes = decoder_conv_shapes(architecture)
        # upsample after the conv that leaves each block (512->256, 256->128, 128->64)
        upsample_after = {i for i, (cin, cout) in enumerate(shapes) if cout < cin and cout != 3}
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(shapes):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3)]
            if i < len(shapes) - 1:
                layers.append(nn.ReLU(inplace=True))
            if i in upsample_after:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.layers = nn.Sequential(*layers)

    def forward(self, features: Tensor) -> Tensor:
        """Runs in the weights' dtype (a bf16 :func:`~adain.models.inference_copy` takes fp32 features)."""
        return self.layers(features.to(self.layers[1].weight.dtype))
