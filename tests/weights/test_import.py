"""Importing published files: pytorch-AdaIN's vgg_normalised.pth and decoder.pth, torchvision's vgg19,
adain safetensors; refusing wrong shapes, unknown layouts, garbage and pickles that run code."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from adain.cli.main import main
from adain.errors import ShapeError, UsageError, WeightsError
from adain.models import Decoder
from adain.ops.taps import TAPS
from adain.weights import import_weights, load_decoder, load_encoder, save_decoder
from adain.weights.presets import PRESETS
from adain.weights.store import component_path, file_sha256, read_manifest


def assert_taps_close(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> None:
    for tap in TAPS:
        assert ours[tap].shape == theirs[tap].shape, tap
        torch.testing.assert_close(ours[tap], theirs[tap], rtol=1e-4, atol=1e-5)


def test_vgg_normalised_becomes_the_vgg19_encoder(tmp_home: Path, published, reference) -> None:
    preset, component, path = import_weights(published.vgg_normalised)
    assert (preset, component, path) == ("vgg19", "encoder", component_path("vgg19", "encoder", tmp_home))
    entry = read_manifest(path.parent)["encoder"]
    assert entry["source_sha256"] == file_sha256(published.vgg_normalised)
    assert entry["architecture"] == "vgg19-normalised" and entry["licence"].startswith("MIT")
    torch.manual_seed(0)
    image = torch.rand(1, 3, 24, 20)
    with torch.no_grad():
        assert_taps_close(load_encoder("vgg19")(image), reference.adain_taps(published.vgg[:31], image))


def test_decoder_pth_becomes_the_vgg19_decoder(tmp_home: Path, published) -> None:
    assert import_weights(published.decoder)[:2] == ("vgg19", "decoder")
    decoder = load_decoder("vgg19")
    torch.manual_seed(1)
    features = torch.randn(1, 512, 4, 5)
    with torch.no_grad():
        torch.testing.assert_close(decoder(features), published.decoder_net(features), rtol=1e-4, atol=1e-5)


def test_torchvision_vgg19_becomes_the_vgg19_imagenet_encoder(tmp_home: Path, published, reference) -> None:
    assert import_weights(published.torchvision_vgg19)[:2] == ("vgg19-imagenet", "encoder")
    torch.manual_seed(2)
    image = torch.rand(2, 3, 21, 18)
    with torch.no_grad():
        ours = load_encoder("vgg19-imagenet")(image)
        assert_taps_close(ours, reference.torchvision_taps(published.torchvision_features, image))


def test_cli_import_prints_what_it_imported(tmp_home: Path, published, capsys) -> None:
    assert main(["weights", "import", str(published.decoder)]) == 0
    out = capsys.readouterr().out
    assert "decoder of preset vgg19" in out and str(component_path("vgg19", "decoder", tmp_home)) in out
    assert main(["weights", "list"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("vgg19 "))
    assert "encoder: missing" in line and f"decoder: imported {published.decoder.resolve()}" in line


def test_import_over_a_component_needs_replace_and_remove_goes_back(tmp_home: Path, published, capsys) -> None:
    """vgg16-hed ships its decoder: importing over it needs --replace, says what it replaced, and
    `weights remove` brings the shipped one back."""
    decoder = Decoder(PRESETS["vgg16-hed"].architecture)
    file = tmp_home.parent / "mine.safetensors"
    save_decoder(decoder, file, "vgg16-hed")
    capsys.readouterr()
    assert main(["weights", "import", str(file)]) == 2
    err = capsys.readouterr().err
    assert "has a decoder already (shipped)" in err and "--replace" in err
    assert not component_path("vgg16-hed", "decoder", tmp_home).exists()

    assert main(["weights", "import", str(file), "--replace"]) == 0
    assert "replaced: shipped" in capsys.readouterr().out
    assert main(["weights", "list"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("vgg16-hed "))
    assert f"decoder: imported {file.resolve()}" in line
    # a second import over the imported one: --replace again, which names the file it replaces
    assert main(["weights", "import", str(file), "--replace"]) == 0
    assert f"replaced: imported {file.resolve()}" in capsys.readouterr().out

    assert main(["weights", "remove", "vgg16-hed", "--component", "decoder"]) == 0
    assert "now: shipped" in capsys.readouterr().out
    assert not component_path("vgg16-hed", "decoder", tmp_home).exists()
    assert "decoder" not in read_manifest(tmp_home / "vgg16-hed")
    assert main(["weights", "remove", "vgg16-hed"]) == 2  # nothing left to remove: said in one line
    assert "no imported or downloaded decoder" in capsys.readouterr().err


def test_wrong_shape_is_a_shape_error_in_one_line(tmp_home: Path, tmp_path: Path, published, capsys) -> None:
    state = torch.load(published.decoder, weights_only=True)
    state["5.weight"] = torch.zeros(256, 256, 5, 5)
    file = tmp_path / "decoder.pth"
    torch.save(state, file)
    with pytest.raises(ShapeError, match=r"layers\.5\.weight has shape \(256, 256, 5, 5\)"):
        import_weights(file)
    assert main(["weights", "import", str(file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(256, 256, 3, 3)" in err
    assert not component_path("vgg19", "decoder", tmp_home).exists()


def test_a_file_for_another_preset_is_refused(tmp_home: Path, published) -> None:
    with pytest.raises(WeightsError, match="does not fit the architecture"):
        import_weights(published.vgg_normalised, preset_name="vgg16-hed")
    with pytest.raises(UsageError, match="unknown preset"):
        import_weights(published.vgg_normalised, preset_name="vgg99")


class Exploit:
    """Unpickling this runs a shell command: weights_only must refuse it before anything runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Opaque:
    def __init__(self) -> None:
        self.weight = torch.zeros(3)


def test_pickle_that_runs_code_is_refused_and_never_executed(tmp_home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for name, save in [
        ("reduce.pth", lambda f: torch.save({"0.weight": Exploit(marker)}, f)),
        ("raw.pth", lambda f: f.write_bytes(pickle.dumps(Exploit(marker), protocol=2))),
    ]:
        file = tmp_path / name
        save(file)
        with pytest.raises(WeightsError, match="weights_only"):
            import_weights(file)
    assert not marker.exists()


def test_pickled_class_instance_is_refused(tmp_home: Path, tmp_path: Path) -> None:
    file = tmp_path / "object.pth"
    torch.save({"state": Opaque()}, file)
    with pytest.raises(WeightsError, match="weights_only"):
        import_weights(file)


@pytest.mark.parametrize("content", [b"", b"garbage, not a checkpoint", b"PK\x03\x04broken zip"])
def test_garbage_is_a_weights_error(tmp_home: Path, tmp_path: Path, content: bytes, capsys) -> None:
    file = tmp_path / "garbage.pth"
    file.write_bytes(content)
    with pytest.raises(WeightsError):
        import_weights(file)
    assert main(["weights", "import", str(file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_not_a_file_is_a_weights_error(tmp_home: Path, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        import_weights(tmp_path / "absent.pth")
    with pytest.raises(WeightsError, match="not a file"):
        import_weights(tmp_path)


def test_unknown_layout_and_non_tensor_values_are_refused(tmp_home: Path, tmp_path: Path) -> None:
    file = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, file)
    with pytest.raises(WeightsError, match="unrecognised .pth layout"):
        import_weights(file)
    torch.save({"0.weight": torch.zeros(3, 3, 1, 1), "epoch": 3}, file)
    with pytest.raises(WeightsError, match="state dict of tensors"):
        import_weights(file)


def test_trained_decoder_safetensors_is_imported_for_its_preset(tmp_home: Path, tmp_path: Path) -> None:
    torch.manual_seed(4)
    decoder = Decoder(PRESETS["vgg16-hed"].architecture).eval()
    run_file = tmp_path / "run" / "decoder.safetensors"
    save_decoder(decoder, run_file, "vgg16-hed", half=False, steps=10)
    assert import_weights(run_file, replace=True)[:2] == ("vgg16-hed", "decoder")  # preset read from the run's manifest
    features = torch.randn(1, 512, 2, 2)
    with torch.no_grad():
        torch.testing.assert_close(load_decoder("vgg16-hed")(features), decoder(features))  # the cache wins
    lone = tmp_path / "lone.safetensors"
    lone.write_bytes(run_file.read_bytes())
    with pytest.raises(UsageError, match="--preset"):
        import_weights(lone)


def test_refusing_a_pickle_never_advises_loading_it_unsafely(tmp_home: Path, tmp_path: Path, capsys) -> None:
    """torch's own message says a refused file "can still be loaded" with ``weights_only=False``
    (which would run its code): ours says what the file asks for, in one line."""
    marker = tmp_path / "pwned"
    file = tmp_path / "evil.pth"
    file.write_bytes(pickle.dumps(Exploit(marker), protocol=2))
    with pytest.raises(WeightsError) as refused:
        import_weights(file)
    message = str(refused.value)
    assert "posix.system" in message and "evil.pth" in message
    assert "False" not in message and "trust" not in message and "can still be loaded" not in message
    assert main(["weights", "import", str(file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "False" not in err
    assert not marker.exists()


def test_an_integer_decoder_pth_is_refused_by_name(tmp_home: Path, tmp_path: Path, published) -> None:
    state = torch.load(published.decoder, weights_only=True)
    state["1.weight"] = state["1.weight"].to(torch.int8)
    file = tmp_path / "int8-decoder.pth"
    torch.save(state, file)
    with pytest.raises(WeightsError, match=r"int8-decoder\.pth: 1\.weight has dtype int8"):
        import_weights(file)
    with pytest.raises(WeightsError, match=r"int8-decoder\.pth: 1\.weight has dtype int8"):
        load_decoder("vgg19", file)
