"""Styles that keep their features (issue 18 item 3): round trips, checks, pooling, bank entries."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain.errors import BankError, ShapeError
from adain.pipeline import StylizationPipeline
from adain.styles.bank import BankEntry, StyleBank, pool_statistics
from adain.styles.features import (
    MAX_STORED_STYLE_POSITIONS,
    StyleFeatures,
    compute_style_features,
    pool_features,
    style_features,
)
from adain.styles.statistics import StyleStatistics, compute_style_statistics

WIDTHS = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512}


def encoded(seed: int, side: int = 8) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {tap: torch.rand(1, width, side, side, generator=generator) for tap, width in WIDTHS.items()}


class TestStyleFeatures:
    def test_round_trip_through_tensors_in_fp16(self) -> None:
        style = style_features(encoded(0), "vgg16-hed")
        tensors = style.to_tensors()
        assert tensors["relu4_1.features"].dtype == torch.float16 and tensors["relu4_1.features"].shape == (512, 64)
        back = StyleFeatures.from_tensors(tensors, "vgg16-hed")
        assert back.features["relu4_1"].shape == (1, 512, 64, 1)
        torch.testing.assert_close(back.features["relu4_1"], style.features["relu4_1"], atol=1e-3, rtol=1e-3)
        assert torch.equal(back.means["relu4_1"], style.means["relu4_1"].float())

    @pytest.mark.parametrize(
        ("key", "value", "message"),
        [
            ("relu4_1.features", torch.rand(511, 10), r"relu4_1 features must be \(512, N\)"),
            ("relu4_1.features", torch.rand(512, MAX_STORED_STYLE_POSITIONS + 1), "N from 1 to 4096"),
            ("relu4_1.features", torch.rand(512, 10, 1), r"Got \(512, 10, 1\)"),
            ("relu5_1.features", torch.rand(512, 10), "no statistics"),
            ("relu3_1.features", torch.rand(256, 10), "without relu4_1's"),
        ],
    )
    def test_bad_features_are_refused(self, key: str, value: torch.Tensor, message: str) -> None:
        statistics = style_features(encoded(0), None)
        tensors = {**StyleStatistics(statistics.means, statistics.stds).to_tensors(), key: value}
        with pytest.raises(ShapeError, match=message):
            StyleFeatures.from_tensors(tensors)

    def test_shallower_taps_are_pooled_onto_relu4_1s_positions(self) -> None:
        """Each kept shallower value is its tap's average over the relu4_1 cell of that position."""
        sides = {"relu1_1": 64, "relu2_1": 32, "relu3_1": 16, "relu4_1": 8}
        features = {tap: torch.rand(1, width, sides[tap], sides[tap]) for tap, width in WIDTHS.items()}
        style = style_features(features, None, max_style_positions=64)
        assert [tap for tap in style.features] == ["relu4_1", "relu3_1", "relu2_1", "relu1_1"]
        # relu1_1 is 64x64 under relu4_1's 8x8: position 9 (row 1, column 1) averages pixels 8-15 x 8-15
        by_hand = features["relu1_1"][0, :, 8:16, 8:16].mean(dim=(1, 2))
        torch.testing.assert_close(style.features["relu1_1"][0, :, 9, 0], by_hand)
        assert style_features(features, None, taps=("relu4_1",)).features.keys() == {"relu4_1"}
        tensors = style.to_tensors()
        tensors["relu2_1.features"] = tensors["relu2_1.features"][:, :10]
        with pytest.raises(ShapeError, match="relu4_1's positions"):
            StyleFeatures.from_tensors(tensors)

    def test_pooling_keeps_every_images_positions(self) -> None:
        first, second = style_features(encoded(1), None), style_features(encoded(2, side=4), None)
        pooled = pool_statistics([(first, 64), (second, 16)])
        assert isinstance(pooled, StyleFeatures) and pooled.features["relu4_1"].shape == (1, 512, 80, 1)
        plain = StyleStatistics(first.means, first.stds)
        assert type(pool_statistics([(first, 64), (plain, 64)])) is StyleStatistics  # one without: none kept
        assert pool_features(plain, []) is plain

    def test_same_statistics_as_without_features(self, pipeline: StylizationPipeline) -> None:
        image = torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(3))
        with_features, area = compute_style_features(pipeline.encoder, image, "vgg16-hed", 32)
        statistics, same_area = compute_style_statistics(pipeline.encoder, image, "vgg16-hed", 32)
        assert area == same_area
        for tap in WIDTHS:
            assert torch.equal(with_features.means[tap], statistics.means[tap])


class TestBankFeatures:
    def test_a_bank_keeps_features_and_checks_them(self, tmp_path: Path) -> None:
        bank = StyleBank("vgg16-hed")
        bank.add("kept", style_features(encoded(0), "vgg16-hed"), BankEntry("kept"))
        plain = style_features(encoded(1), None)
        bank.add("plain", StyleStatistics(plain.means, plain.stds), BankEntry("plain"))
        bank.save(tmp_path / "bank")
        loaded = StyleBank.load(tmp_path / "bank")
        assert isinstance(loaded.get("kept"), StyleFeatures) and type(loaded.get("plain")) is StyleStatistics
        from safetensors.torch import load_file, save_file

        tensors = load_file(str(tmp_path / "bank.safetensors"))
        tensors["kept/relu4_1.features"] = torch.rand(100, 4).half()
        save_file(tensors, str(tmp_path / "bank.safetensors"))
        with pytest.raises(BankError, match=r"style 'kept' in .*bank\.safetensors: relu4_1 features must be"):
            StyleBank.load(tmp_path / "bank")

    def test_the_fast_preset_reads_the_teachers_bank_with_its_features(self, tmp_path: Path) -> None:
        """``fast`` reads vgg16-hed's banks, relabelled as its own: a style that kept its features
        keeps them (attention with ``--preset fast`` and a bank style), a plain one stays plain."""
        from adain.styles.library import available_banks

        bank = StyleBank("vgg16-hed")
        bank.add("kept", style_features(encoded(0), "vgg16-hed"), BankEntry("kept"))
        plain = style_features(encoded(1), None)
        bank.add("plain", StyleStatistics(plain.means, plain.stds), BankEntry("plain"))
        bank.save(tmp_path / "bank")
        [(origin, fast)] = available_banks("fast", tmp_path / "bank", include_shipped=False)
        assert origin == "user" and fast.preset == "fast"
        kept = fast.get("kept")
        assert isinstance(kept, StyleFeatures) and kept.preset == "fast"
        assert torch.equal(kept.features["relu4_1"], StyleBank.load(tmp_path / "bank").get("kept").features["relu4_1"])
        assert type(fast.get("plain")) is StyleStatistics and fast.get("plain").preset == "fast"

    def test_a_banked_style_with_features_gives_its_images_attention_result(
        self, pipeline: StylizationPipeline, tmp_path: Path
    ) -> None:
        style = torch.rand(1, 3, 48, 40, generator=torch.Generator().manual_seed(5))
        content = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(6))
        bank = StyleBank("vgg16-hed")
        bank.add("kept", compute_style_features(pipeline.encoder, style, "vgg16-hed", 32)[0], BankEntry("kept"))
        bank.save(tmp_path / "bank")
        banked = StyleBank.load(tmp_path / "bank").get("kept")
        by_bank = pipeline(content, banked, method="attention", output_type="pt").rgb
        by_image = pipeline(content, style, method="attention", style_size=32, output_type="pt").rgb
        torch.testing.assert_close(by_bank, by_image, atol=5e-3, rtol=0)  # fp16 features
