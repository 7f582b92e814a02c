"""``method="attention"`` in video: the styles' features are encoded once, each frame is the
pipeline's own attention result (temporal none), and the temporal mechanisms still apply."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adain.errors import UsageError
from adain.eval.clips import shapes_clip
from adain.pipeline.options import StylizeOptions
from adain.pipeline.stylize import StylizationPipeline
from adain.styles.features import StyleFeatures
from adain.video.stylizer import VideoStylizer, frame_to_tensor, tensor_to_frame

OPTIONS = StylizeOptions(method="attention", alpha=0.9)


@pytest.fixture(scope="module")
def style() -> torch.Tensor:
    return torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(11))


def test_none_mode_is_the_pipelines_attention_per_frame(
    pipeline: StylizationPipeline, style: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded, prepared = [], []
    original = pipeline.prepare_styles

    def counting(styles: list, content_rgb: torch.Tensor, options: StylizeOptions) -> list:
        encoded.extend(s for s in styles if isinstance(s, torch.Tensor))  # images, not statistics
        prepared.extend(original(styles, content_rgb, options))
        return prepared[-len(styles) :]

    monkeypatch.setattr(pipeline, "prepare_styles", counting)
    frames = shapes_clip(3, 32, 48, seed=4)
    stylizer = VideoStylizer(pipeline, [style], OPTIONS, "none")
    outputs = list(stylizer.stylize_frames(frames))
    # the image is encoded once, into features; every frame gets them ready-made
    assert len(encoded) == 1 and len(prepared) == 1 + len(frames)
    assert all(isinstance(features, StyleFeatures) and "relu4_1" in features.features for features in prepared)
    monkeypatch.setattr(pipeline, "prepare_styles", original)
    plain = list(VideoStylizer(pipeline, [style], StylizeOptions(alpha=0.9), "none").stylize_frames(frames))
    for frame, output, decoder in zip(frames, outputs, plain):
        expected = tensor_to_frame(pipeline(frame_to_tensor(frame), style, OPTIONS, output_type="pt").rgb)
        assert np.array_equal(output, expected)
        assert not np.allclose(output, decoder, atol=1e-3)  # attention, not plain AdaIN


def test_default_temporal_mode_smooths_attention(pipeline: StylizationPipeline, style: torch.Tensor) -> None:
    frames = shapes_clip(4, 32, 48, seed=5)
    default = VideoStylizer(pipeline, [style], OPTIONS)  # the default mode: flow
    outputs = list(default.stylize_frames(frames))
    assert len(outputs) == 4 and all(o.shape == (32, 48, 3) and o.dtype == np.float32 for o in outputs)
    none = list(VideoStylizer(pipeline, [style], OPTIONS, "none").stylize_frames(frames))
    ema = list(VideoStylizer(pipeline, [style], OPTIONS, "ema").stylize_frames(frames))
    assert np.array_equal(ema[0], none[0])  # the average starts with the first frame's statistics
    assert not np.array_equal(ema[2], none[2])  # then smooths attention's content statistics
    assert not np.array_equal(outputs[2], none[2])  # flow blends the previous output in


def test_bank_styles_are_refused(pipeline: StylizationPipeline) -> None:
    with pytest.raises(UsageError, match="needs the style's features"):
        VideoStylizer(pipeline, ["bank:candy"], OPTIONS)
