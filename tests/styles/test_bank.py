"""Style bank: storage round trips, pooling, and bank styles equal to their images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain.errors import BankError, InputImageError, OutputError, UsageError
from adain.ops.statistics import channel_mean_std
from adain.pipeline.stylize import StylizationPipeline
from adain.styles.bank import BankEntry, StyleBank, did_you_mean, pool_statistics, similar_names, valid_style_name
from adain.styles.library import encode_style_images, resolve_style
from adain.styles.statistics import StyleStatistics

TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def random_statistics(seed: int, preset: str | None = "vgg16-hed") -> StyleStatistics:
    generator = torch.Generator().manual_seed(seed)
    widths = dict(zip(TAPS, (64, 128, 256, 512)))
    means = {tap: torch.randn(1, c, 1, 1, generator=generator) for tap, c in widths.items()}
    stds = {tap: torch.rand(1, c, 1, 1, generator=generator) + 0.1 for tap, c in widths.items()}
    return StyleStatistics(means, stds, preset)


def save_style_image(path: Path, seed: int, size: tuple[int, int] = (40, 48)) -> Path:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    Image.fromarray(base).resize(size, Image.Resampling.BICUBIC).save(path)
    return path


class TestPoolStatistics:
    def test_single_image_is_unchanged(self) -> None:
        statistics = random_statistics(0)
        assert pool_statistics([(statistics, 10)]) is statistics

    def test_pooled_equals_statistics_of_concatenated_features(self) -> None:
        generator = torch.Generator().manual_seed(1)
        first, second = (
            torch.randn(1, 4, 6, 5, generator=generator),
            3 * torch.randn(1, 4, 6, 3, generator=generator) + 1,
        )

        def stats(features: torch.Tensor) -> StyleStatistics:
            mean, std = channel_mean_std(features, eps=0.0)
            return StyleStatistics({"relu4_1": mean}, {"relu4_1": std})

        pooled = pool_statistics([(stats(first), 30), (stats(second), 18)])
        expected = stats(torch.cat([first, second], dim=3))
        torch.testing.assert_close(pooled.means["relu4_1"], expected.means["relu4_1"], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(pooled.stds["relu4_1"], expected.stds["relu4_1"], atol=1e-5, rtol=1e-5)


class TestStyleBank:
    def test_round_trip(self, tmp_path: Path) -> None:
        bank = StyleBank("vgg16-hed")
        bank.add("wave", random_statistics(0), BankEntry("wave", source="hokusai", licence="public domain"))
        bank.add("scream", random_statistics(1), BankEntry("scream"))
        bank.save(tmp_path / "bank")
        loaded = StyleBank.load(tmp_path / "bank.safetensors")
        assert list(loaded) == ["scream", "wave"]
        assert loaded.entries["wave"].source == "hokusai" and loaded.entries["wave"].licence == "public domain"
        for tap in TAPS:
            assert torch.equal(loaded.get("wave").means[tap], random_statistics(0).means[tap])
            assert torch.equal(loaded.get("scream").stds[tap], random_statistics(1).stds[tap])
        assert json.loads((tmp_path / "bank.json").read_text())["preset"] == "vgg16-hed"
        assert not list(tmp_path.glob("*.part"))

    def test_duplicate_needs_replace(self) -> None:
        bank = StyleBank("vgg16-hed")
        bank.add("wave", random_statistics(0), BankEntry("wave"))
        with pytest.raises(UsageError, match="already in the bank"):
            bank.add("wave", random_statistics(1), BankEntry("wave"))
        bank.add("wave", random_statistics(1), BankEntry("wave"), replace=True)
        assert torch.equal(bank.get("wave").means["relu4_1"], random_statistics(1).means["relu4_1"])

    def test_remove_and_missing(self) -> None:
        bank = StyleBank("vgg16-hed")
        bank.add("wave", random_statistics(0), BankEntry("wave"))
        bank.remove("wave")
        assert "wave" not in bank
        with pytest.raises(BankError, match="no style 'wave'"):
            bank.get("wave")

    def test_other_preset_statistics_refused(self) -> None:
        with pytest.raises(UsageError, match="cannot go into"):
            StyleBank("vgg16-hed").add("x", random_statistics(0, preset="vgg19"), BankEntry("x"))
        with pytest.raises(UsageError, match="cannot import"):
            StyleBank("vgg16-hed").merge(StyleBank("vgg19"))

    def test_merge_clash(self) -> None:
        first, second = StyleBank("vgg16-hed"), StyleBank("vgg16-hed")
        first.add("a", random_statistics(0), BankEntry("a"))
        second.add("a", random_statistics(1), BankEntry("a"))
        second.add("b", random_statistics(2), BankEntry("b"))
        with pytest.raises(UsageError, match="already in the bank: a"):
            first.merge(second)
        assert first.merge(second, replace=True) == ["a", "b"]

    @pytest.mark.parametrize("name", ["", "-x", "a b", "a/b", "x" * 101, "é"])
    def test_invalid_names(self, name: str) -> None:
        with pytest.raises(UsageError):
            valid_style_name(name)

    def test_unreadable_bank(self, tmp_path: Path) -> None:
        with pytest.raises(BankError, match="no style bank"):
            StyleBank.load(tmp_path / "missing")
        (tmp_path / "broken.json").write_text("{not json")
        with pytest.raises(BankError, match="cannot read"):
            StyleBank.load(tmp_path / "broken")
        (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
        with pytest.raises(BankError, match="not a style bank"):
            StyleBank.load(tmp_path / "other")


class TestBankStyleEqualsImage:
    def test_bank_style_matches_its_image(
        self, pipeline: StylizationPipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ADAIN_HOME", str(tmp_path / "home"))
        style_path = save_style_image(tmp_path / "style.png", seed=3)
        ((statistics, area, info),) = encode_style_images("vgg16-hed", [style_path], style_size=32)
        assert area > 0 and info["file"] == "style.png" and len(info["sha256"]) == 64
        bank = StyleBank("vgg16-hed")
        bank.add("mine", statistics, BankEntry("mine", style_size=32))
        bank.save(tmp_path / "home" / "bank" / "vgg16-hed")
        from_bank = resolve_style("bank:mine", "vgg16-hed")
        assert isinstance(from_bank, StyleStatistics)
        assert resolve_style("plain.png", "vgg16-hed") == "plain.png"
        content = torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(5))
        by_bank = pipeline(content, from_bank, output_type="pt").rgb
        by_image = pipeline(content, style_path, output_type="pt", style_size=32).rgb
        assert (by_bank - by_image).abs().max() <= 1e-5

    def test_unknown_bank_style(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ADAIN_HOME", str(tmp_path))
        with pytest.raises(BankError, match="no style 'nope'"):
            resolve_style("bank:nope", "vgg16-hed")


class TestStyleNamingRule:
    """Issue 16 item 8: ``bank:NAME`` everywhere; a bare name that is no file falls back to the bank."""

    @staticmethod
    def user_bank(home: Path, *names: str) -> None:
        bank = StyleBank("vgg16-hed")
        for seed, name in enumerate(names):
            bank.add(name, random_statistics(seed), BankEntry(name))
        bank.save(home / "bank" / "vgg16-hed")

    def test_similar_names(self) -> None:
        names = ["candy", "starry-night-google", "the-scream", "Starling"]
        assert similar_names("starry", names) == ["starry-night-google"]
        assert similar_names("STAR", names) == ["Starling", "starry-night-google"]
        assert similar_names("scream", names) == ["the-scream"]
        assert similar_names("cnady", names) == ["candy"]
        assert similar_names("", names) == [] and similar_names("zzz", names) == []
        assert did_you_mean("zzz", names) == ""
        assert did_you_mean("star", names) == "; did you mean bank:Starling or bank:starry-night-google?"

    def test_bare_name_falls_back_to_the_bank_with_a_note(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ADAIN_HOME", str(tmp_path))
        monkeypatch.chdir(tmp_path)
        self.user_bank(tmp_path, "wave")
        notes: list[str] = []
        by_name = resolve_style("wave", "vgg16-hed", note=notes.append)
        assert isinstance(by_name, StyleStatistics)
        assert notes == ["'wave' is no file: using the bank style bank:wave"]
        by_prefix = resolve_style("bank:wave", "vgg16-hed", note=notes.append)
        assert torch.equal(by_prefix.means["relu4_1"], by_name.means["relu4_1"]) and len(notes) == 1
        (tmp_path / "wave").write_bytes(b"a file of that name wins")
        assert resolve_style("wave", "vgg16-hed") == "wave"

    def test_near_misses_are_suggested(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ADAIN_HOME", str(tmp_path))
        monkeypatch.chdir(tmp_path)
        self.user_bank(tmp_path, "starry-night-google")
        with pytest.raises(BankError, match=r"no style 'starry' .*did you mean bank:starry-night-google\?"):
            resolve_style("bank:starry", "vgg16-hed")
        with pytest.raises(
            InputImageError, match=r"'starry' is neither an image file .*did you mean bank:starry-night"
        ):
            resolve_style("starry", "vgg16-hed")
        with pytest.raises(BankError, match=r"did you mean bank:starry-night-google"):
            StyleBank.load(tmp_path / "bank" / "vgg16-hed").get("starry-nite")

    @pytest.mark.parametrize("path", ["missing.jpg", "art/missing", "missing.PNG"])
    def test_file_names_are_left_to_the_loader(
        self, path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ADAIN_HOME", str(tmp_path))
        assert resolve_style(path, "vgg16-hed") == path

    def test_the_python_api_takes_both_spellings(
        self, pipeline: StylizationPipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ADAIN_HOME", str(tmp_path))
        monkeypatch.chdir(tmp_path)
        self.user_bank(tmp_path, "wave")
        content = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(2))
        by_name = pipeline(content, "wave", output_type="pt").rgb
        by_prefix = pipeline(content, "bank:wave", output_type="pt").rgb
        assert torch.equal(by_name, by_prefix)
        with pytest.raises(InputImageError, match="did you mean bank:wave"):
            pipeline(content, "wav")


class TestHostileBankFiles:
    """Issue 15: a bank file is trusted for nothing; every refusal is a BankError naming the file."""

    @staticmethod
    def write(folder: Path, index: object, tensors: dict[str, torch.Tensor] | None = None) -> Path:
        from safetensors.torch import save_file

        (folder / "bank.json").write_text(index if isinstance(index, str) else json.dumps(index))
        if tensors is not None:
            save_file(tensors, str(folder / "bank.safetensors"))
        return folder / "bank"

    @staticmethod
    def index(*names: str) -> dict[str, object]:
        return {"format": "adain-style-bank/1", "preset": "vgg16-hed", "styles": {n: {"name": n} for n in names}}

    @staticmethod
    def tensors(*names: str) -> dict[str, torch.Tensor]:
        return {f"{n}/{key}": value for n in names for key, value in random_statistics(0).to_tensors().items()}

    @pytest.mark.parametrize("name", ["../../evil", "a\nb", "", "a/b", ".hidden", "x" * 101])
    def test_style_names_obey_the_rules_of_bank_add(self, tmp_path: Path, name: str) -> None:
        path = self.write(tmp_path, self.index(name), self.tensors(name))
        with pytest.raises(BankError, match=r"bank\.json: style name"):
            StyleBank.load(path)

    @pytest.mark.parametrize(
        ("index", "message"),
        [
            ([1, 2], "a JSON list, not an object"),
            ('"bank"', "a JSON str"),
            ({"preset": "vgg16-hed"}, "needs 'preset' and 'styles'"),
            ({"preset": "vgg99", "styles": {}}, "unknown preset 'vgg99'"),
            ({"format": "other/2", "preset": "vgg16-hed", "styles": {}}, "of format"),
            ({"preset": "vgg16-hed", "styles": {"wave": "x"}}, "style 'wave' is a JSON str"),
            ({"preset": "vgg16-hed", "styles": {"wave": {"style_size": "512"}}}, "must be an integer"),
            ({"preset": "vgg16-hed", "styles": {"wave": {"name": "other"}}}, "calls itself 'other'"),
            ('{"preset": "vgg16-hed", "preset": "vgg19", "styles": {}}', "names 'preset' twice"),
            ("[" * 100_000 + "]" * 100_000, "nested too deep"),
        ],
    )
    def test_an_index_of_the_wrong_shape_is_a_bank_error(self, tmp_path: Path, index: object, message: str) -> None:
        path = self.write(tmp_path, index, self.tensors("wave"))
        with pytest.raises(BankError, match=rf"bank\.json.*{message}"):
            StyleBank.load(path)

    @pytest.mark.parametrize(
        ("key", "value", "message"),
        [
            ("wave/relu4_1.mean", torch.full((512,), float("nan")), "relu4_1.mean holds NaN"),
            ("wave/relu4_1.std", torch.full((512,), float("inf")), "relu4_1.std holds infinite"),
            ("wave/relu3_1.std", -torch.ones(256), "stds non-negative"),
            ("wave/relu4_1.mean", torch.zeros(2, 512), r"must be \(C,\)"),
            ("wave/relu4_1.mean", torch.zeros(512, dtype=torch.int8), "dtype I8"),
            ("ghost/relu4_1.mean", torch.zeros(512), "belongs to no style"),
        ],
    )
    def test_mismatched_or_broken_statistics_are_a_bank_error(
        self, tmp_path: Path, key: str, value: torch.Tensor, message: str
    ) -> None:
        tensors = {**self.tensors("wave"), key: value}
        path = self.write(tmp_path, self.index("wave"), tensors)
        with pytest.raises(BankError, match=rf"bank\.safetensors.*{message}"):
            StyleBank.load(path)

    def test_statistics_of_another_width_are_a_bank_error(self, tmp_path: Path) -> None:
        tensors = {**self.tensors("wave"), "wave/relu4_1.mean": torch.zeros(256), "wave/relu4_1.std": torch.ones(256)}
        with pytest.raises(BankError, match="relu4_1 has 256 channels; the encoder's relu4_1 has 512"):
            StyleBank.load(self.write(tmp_path, self.index("wave"), tensors))

    def test_a_fifo_is_refused_without_blocking(self, tmp_path: Path) -> None:
        import os

        os.mkfifo(tmp_path / "bank.json")
        with pytest.raises(BankError, match=r"bank\.json is a FIFO"):
            StyleBank.load(tmp_path / "bank")

    def test_subset_of_an_unknown_style_is_a_bank_error(self) -> None:
        bank = StyleBank("vgg16-hed")
        bank.add("wave", random_statistics(0), BankEntry("wave"))
        with pytest.raises(BankError, match="no style 'nope'"):
            bank.subset(["wave", "nope"])

    def test_a_failed_save_writes_neither_file(self, tmp_path: Path) -> None:
        bank = StyleBank("vgg16-hed")
        bank.add("wave", random_statistics(0), BankEntry("wave"))
        (tmp_path / "bank.json").mkdir()  # something that is not a file is in the way of the index
        with pytest.raises(OutputError, match=r"bank\.json"):
            bank.save(tmp_path / "bank")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bank.json"]
        with pytest.raises(UsageError, match="needs a file name"):
            bank.save(Path(""))
