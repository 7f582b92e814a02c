"""VGGEncoder against reference networks written layer by layer in the published layouts."""

from __future__ import annotations

import pytest
import torch

from adain.errors import UsageError
from adain.models import EncoderArchitecture, InputNormalization, VGGEncoder
from adain.ops.taps import TAPS
from adain.weights.presets import PRESETS

# Sequential index of each conv in pytorch-AdaIN's vgg_normalised and torchvision's vgg19 features,
# written out here independently of adain.weights.convert.
ADAIN_VGG_CONVS = {
    "conv1_1": 2,
    "conv1_2": 5,
    "conv2_1": 9,
    "conv2_2": 12,
    "conv3_1": 16,
    "conv3_2": 19,
    "conv3_3": 22,
    "conv3_4": 25,
    "conv4_1": 29,
}
TORCHVISION_CONVS = {
    "conv1_1": 0,
    "conv1_2": 2,
    "conv2_1": 5,
    "conv2_2": 7,
    "conv3_1": 10,
    "conv3_2": 12,
    "conv3_3": 14,
    "conv3_4": 16,
    "conv4_1": 19,
}


def _copy_convs(encoder: VGGEncoder, sequential: torch.nn.Sequential, index: dict[str, int]) -> None:
    with torch.no_grad():
        for name, i in index.items():
            encoder.convs[name].weight.copy_(sequential[i].weight)
            encoder.convs[name].bias.copy_(sequential[i].bias)


def test_conv_names_and_shapes_follow_the_block_layout() -> None:
    vgg16 = EncoderArchitecture("t", (2, 2, 3))
    assert vgg16.conv_names() == [
        "conv1_1",
        "conv1_2",
        "conv2_1",
        "conv2_2",
        "conv3_1",
        "conv3_2",
        "conv3_3",
        "conv4_1",
    ]
    assert vgg16.conv_shapes()["conv3_1"] == (128, 256)
    assert vgg16.conv_shapes()["conv4_1"] == (256, 512)
    vgg19 = EncoderArchitecture("t", (2, 2, 4))
    assert len(vgg19.conv_names()) == 9 and vgg19.conv_shapes()["conv3_4"] == (256, 256)


@pytest.mark.parametrize("size", [(32, 32), (29, 23)])
def test_vgg19_normalised_layout_matches_pytorch_adain(reference, size) -> None:
    torch.manual_seed(0)
    vgg = reference.adain_vgg()[:31].eval()
    encoder = VGGEncoder(PRESETS["vgg19"].architecture).eval()
    _copy_convs(encoder, vgg, ADAIN_VGG_CONVS)
    with torch.no_grad():
        encoder.input_1x1.weight.copy_(vgg[0].weight)
        encoder.input_1x1.bias.copy_(vgg[0].bias)
    image = torch.rand(1, 3, *size)
    with torch.no_grad():
        ours, theirs = encoder(image), reference.adain_taps(vgg, image)
    for tap in TAPS:
        # odd sizes exercise ceil-mode pooling: floor mode would give a smaller map here
        assert ours[tap].shape == theirs[tap].shape, tap
        torch.testing.assert_close(ours[tap], theirs[tap], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("size", [(32, 32), (29, 23)])
def test_vgg19_imagenet_layout_matches_torchvision(reference, size) -> None:
    torch.manual_seed(1)
    features = reference.torchvision_vgg19_features().eval()
    encoder = VGGEncoder(PRESETS["vgg19-imagenet"].architecture).eval()
    _copy_convs(encoder, features, TORCHVISION_CONVS)
    image = torch.rand(2, 3, *size)
    with torch.no_grad():
        ours, theirs = encoder(image), reference.torchvision_taps(features, image)
    for tap in TAPS:
        assert ours[tap].shape == theirs[tap].shape, tap
        torch.testing.assert_close(ours[tap], theirs[tap], rtol=1e-4, atol=1e-5)


def test_input_normalization_reorders_scales_and_shifts() -> None:
    norm = InputNormalization(channel_order=(2, 1, 0), scale=255.0, mean=(10.0, 20.0, 30.0), std=(1.0, 2.0, 4.0))
    encoder = VGGEncoder(EncoderArchitecture("t", normalization=norm))
    image = torch.rand(1, 3, 4, 4)
    expected = torch.stack([(image[0, 2] * 255 - 10) / 1, (image[0, 1] * 255 - 20) / 2, (image[0, 0] * 255 - 30) / 4])
    torch.testing.assert_close(encoder.normalize_input(image)[0], expected)


def test_last_tap_stops_early_and_weights_are_frozen() -> None:
    encoder = VGGEncoder(EncoderArchitecture("t"))
    taps = encoder(torch.rand(1, 3, 16, 16), last_tap="relu2_1")
    assert list(taps) == ["relu1_1", "relu2_1"]
    some = encoder(torch.rand(1, 3, 16, 16), taps={"relu3_1", "relu1_1"})
    assert list(some) == ["relu1_1", "relu3_1"]
    with pytest.raises(UsageError, match="unknown tap"):
        encoder(torch.rand(1, 3, 16, 16), last_tap="relu5_1")
    assert not any(p.requires_grad for p in encoder.parameters())
    names = encoder.architecture.conv_names()
    assert set(encoder.state_dict()) == {f"convs.{n}.{p}" for n in names for p in ("weight", "bias")}
