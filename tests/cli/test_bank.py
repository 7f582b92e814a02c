"""``adain bank``: add, list, show, remove, export, import; ``--style bank:NAME`` in stylize."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adain.styles.bank import StyleBank
from adain.styles.library import shipped_bank_path


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ADAIN_HOME (banks are written there) that sees the already prepared encoder."""
    from adain.weights import adain_home, prepare

    real_preset_dir = prepare("vgg16-hed")["encoder"].parent
    new_home = tmp_path / "home"
    new_home.mkdir()
    (new_home / "vgg16-hed").symlink_to(real_preset_dir, target_is_directory=True)
    monkeypatch.setenv("ADAIN_HOME", str(new_home))
    assert adain_home() == new_home
    return new_home


def test_add_list_show_remove(adain: Callable, make_image: Callable, tmp_path: Path) -> None:
    image = make_image(tmp_path / "wave.png", 40, 32, seed=1)
    result = adain(
        "bank", "add", "wave", image, "--source", "Hokusai (test)", "--licence", "public domain", "--style-size", "0"
    )
    assert result.code == 0, result.err
    listed = adain("bank", "list", "--user-only")
    assert listed.code == 0
    lines = listed.out.splitlines()
    assert len(lines) == 1 and lines[0].split("\t")[0] == "wave" and "Hokusai (test)" in lines[0]
    shown = json.loads(adain("bank", "show", "wave").out)
    assert shown["source"] == "Hokusai (test)" and shown["licence"] == "public domain"
    assert shown["taps"]["relu4_1"] == [1, 512, 1, 1] and shown["images"][0]["file"] == "wave.png"
    again = adain("bank", "add", "wave", image)
    assert again.code == 2 and len(again.err_lines) == 1 and "--replace" in again.err
    assert adain("bank", "remove", "wave").code == 0
    assert adain("bank", "list", "--user-only").out == ""
    missing = adain("bank", "remove", "wave")
    assert missing.code == 2 and len(missing.err_lines) == 1


def test_several_images_pool(adain: Callable, make_image: Callable, tmp_path: Path) -> None:
    images = [make_image(tmp_path / f"s{i}.png", 32, 32, seed=i) for i in range(2)]
    assert adain("bank", "add", "duo", *images).code == 0
    assert len(json.loads(adain("bank", "show", "duo").out)["images"]) == 2


def test_bad_inputs(adain: Callable, make_image: Callable, tmp_path: Path) -> None:
    bad_name = adain("bank", "add", "no spaces", make_image(tmp_path / "a.png"))
    assert bad_name.code == 2 and len(bad_name.err_lines) == 1
    (tmp_path / "junk.png").write_bytes(b"not an image")
    junk = adain("bank", "add", "junk", tmp_path / "junk.png")
    assert junk.code == 1 and len(junk.err_lines) == 1 and "junk.png" in junk.err
    unknown = adain("bank", "show", "does-not-exist")
    assert unknown.code == 1 and len(unknown.err_lines) == 1


def test_export_import(adain: Callable, make_image: Callable, tmp_path: Path, home: Path) -> None:
    adain("bank", "add", "one", make_image(tmp_path / "1.png", 32, 32, seed=1))
    adain("bank", "add", "two", make_image(tmp_path / "2.png", 32, 32, seed=2))
    assert adain("bank", "export", tmp_path / "exported.safetensors", "one", "two").code == 0
    exported = StyleBank.load(tmp_path / "exported")
    assert list(exported) == ["one", "two"]
    adain("bank", "remove", "one")
    clash = adain("bank", "import", tmp_path / "exported.safetensors")
    assert clash.code == 2 and "two" in clash.err
    assert adain("bank", "import", tmp_path / "exported.safetensors", "--replace").code == 0
    assert [line.split("\t")[0] for line in adain("bank", "list", "--user-only").out.splitlines()] == ["one", "two"]


def test_stylize_with_bank_style_equals_image(
    adain: Callable, make_image: Callable, decoder_file: Path, tmp_path: Path
) -> None:
    style = make_image(tmp_path / "style.png", 40, 32, seed=7)
    content = make_image(tmp_path / "content.png", 48, 40, seed=8)
    assert adain("bank", "add", "seven", style, "--style-size", "32").code == 0
    common = ["--decoder", decoder_file, "--size", "0", "--no-progress"]
    by_bank = adain("stylize", content, "--style", "bank:seven", "-o", tmp_path / "bank.png", *common)
    by_image = adain("stylize", content, "--style", style, "--style-size", "32", "-o", tmp_path / "image.png", *common)
    assert by_bank.code == 0 and by_image.code == 0, by_bank.err + by_image.err
    first = np.asarray(Image.open(tmp_path / "bank.png"), dtype=np.int16)
    second = np.asarray(Image.open(tmp_path / "image.png"), dtype=np.int16)
    assert np.abs(first - second).max() <= 1
    unknown = adain("stylize", content, "--style", "bank:nope", "-o", tmp_path / "x.png", *common)
    assert unknown.code == 1 and len(unknown.err_lines) == 1 and "nope" in unknown.err
    assert not (tmp_path / "x.png").exists()
    match = adain(
        "stylize", content, "--style", "bank:seven", "--preserve-color", "match", "-o", tmp_path / "y.png", *common
    )
    assert match.code == 2 and len(match.err_lines) == 1


def test_bare_bank_names_work_with_a_note_and_near_misses_get_suggestions(
    adain: Callable, make_image: Callable, decoder_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 item 8: a bare name that is no file falls back to the bank; "did you mean" for near misses."""
    monkeypatch.chdir(tmp_path)
    style = make_image(tmp_path / "style.png", 40, 32, seed=7)
    content = make_image(tmp_path / "content.png", 48, 40, seed=8)
    assert adain("bank", "add", "starry-night-google", style, "--style-size", "32").code == 0
    common = ["--decoder", decoder_file, "--size", "0", "--no-progress"]
    bare = adain("stylize", content, "--style", "starry-night-google", "-o", tmp_path / "bare.png", *common)
    assert bare.code == 0, bare.err
    assert bare.err_lines == [
        "adain stylize: note: 'starry-night-google' is no file: using the bank style bank:starry-night-google"
    ]
    by_bank = adain("stylize", content, "--style", "bank:starry-night-google", "-o", tmp_path / "bank.png", *common)
    assert by_bank.code == 0 and not by_bank.err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "bare.png")), np.asarray(Image.open(tmp_path / "bank.png")))
    for spelling in ("bank:starry", "starry"):
        missed = adain("stylize", content, "--style", spelling, "-o", tmp_path / "x.png", *common)
        assert missed.code == 1 and len(missed.err_lines) == 1, missed.err
        assert "did you mean bank:starry-night-google?" in missed.err
    removed = adain("bank", "remove", "starry")
    assert removed.code == 2 and "did you mean bank:starry-night-google?" in removed.err
    assert not (tmp_path / "x.png").exists()


def test_cli_bank_add_features_then_attention(
    adain: Callable, make_image: Callable, decoder_file: Path, tmp_path: Path
) -> None:
    """Issue 18 item 3: a banked style keeps its features with --features; without, attention says how."""
    style = make_image(tmp_path / "style.png", 40, 32, seed=7)
    content = make_image(tmp_path / "content.png", 48, 40, seed=8)
    added = adain("bank", "add", "kept", style, "--style-size", "32", "--features")
    assert added.code == 0 and "with its features" in added.out, added.err
    assert adain("bank", "add", "plain", style, "--style-size", "32").code == 0
    shown = json.loads(adain("bank", "show", "kept").out)
    # 40x32 -> 5x4 positions at relu4_1; the shallower taps pooled onto the same positions
    assert shown["features"] == {"relu4_1": [512, 20], "relu3_1": [256, 20], "relu2_1": [128, 20], "relu1_1": [64, 20]}
    assert json.loads(adain("bank", "show", "plain").out)["features"] == {}
    common = ["--decoder", decoder_file, "--size", "0", "--method", "attention", "--no-progress"]
    ok = adain("stylize", content, "--style", "bank:kept", "-o", tmp_path / "kept.png", *common)
    assert ok.code == 0, ok.err
    refused = adain("stylize", content, "--style", "bank:plain", "-o", tmp_path / "plain.png", *common)
    assert refused.code == 2 and len(refused.err_lines) == 1 and "--features" in refused.err
    assert not (tmp_path / "plain.png").exists()


def test_shipped_bank() -> None:
    _tensors, index = StyleBank.paths(shipped_bank_path("vgg16-hed"))
    if not index.exists():
        pytest.skip("no shipped bank in this checkout")
    bank = StyleBank.load(index)
    assert len(bank) >= 100
    for name in bank:
        entry = bank.entries[name]
        assert entry.source and "research" in entry.licence and entry.style_size == 512
        assert set(bank.get(name).taps) == {"relu1_1", "relu2_1", "relu3_1", "relu4_1"}


# -- issue 15: hostile bank files and bad options ------------------------------------------------------


def _bank_file(folder: Path, name: str) -> Path:
    """A bank file holding one style called ``name`` (whatever it is), as someone else might send it."""
    from safetensors.torch import save_file

    from adain.models import TAP_CHANNELS

    folder.mkdir(parents=True, exist_ok=True)
    index = {"format": "adain-style-bank/1", "preset": "vgg16-hed", "styles": {name: {"name": name}}}
    (folder / "sent.json").write_text(json.dumps(index))
    tensors = {
        f"{name}/{tap}.{kind}": np.ones(width, dtype=np.float32)
        for tap, width in TAP_CHANNELS.items()
        for kind in ("mean", "std")
    }
    import torch

    save_file({key: torch.from_numpy(value) for key, value in tensors.items()}, str(folder / "sent.safetensors"))
    return folder / "sent.safetensors"


@pytest.mark.parametrize("name", ["../../evil", "a\nb"])
def test_import_refuses_names_bank_add_refuses(adain: Callable, tmp_path: Path, home: Path, name: str) -> None:
    result = adain("bank", "import", _bank_file(tmp_path / "sent", name))
    assert result.code == 1 and len(result.err_lines) == 1 and "sent.json: style name" in result.err
    assert not (home / "bank").exists()  # nothing written


def test_import_of_a_json_list_or_a_fifo_is_one_line(adain: Callable, tmp_path: Path, home: Path) -> None:
    import os

    (tmp_path / "list.json").write_text("[1, 2, 3]")
    listed = adain("bank", "import", tmp_path / "list.json")
    assert listed.code == 1 and len(listed.err_lines) == 1 and "list.json is not a style bank index" in listed.err
    os.mkfifo(tmp_path / "pipe.json")  # opening it would block forever
    piped = adain("bank", "import", tmp_path / "pipe.json")
    assert piped.code == 1 and len(piped.err_lines) == 1 and "pipe.json is a FIFO" in piped.err
    folder = adain("bank", "import", tmp_path)
    assert folder.code == 1 and "is a folder" in folder.err
    assert not (home / "bank").exists()


def test_export_of_an_unknown_style_is_a_clear_error(adain: Callable, tmp_path: Path) -> None:
    result = adain("bank", "export", tmp_path / "out.safetensors", "nope")  # a KeyError before
    assert result.code == 1 and len(result.err_lines) == 1 and result.err_lines[0].startswith("adain bank: error: ")
    assert "no style 'nope'" in result.err and not list(tmp_path.glob("out.*"))


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--preset", "nope", "list"), 2, "unknown preset 'nope'"),
        (("--preset", "", "list"), 2, "unknown preset ''"),
        (("--bank", "", "list"), 2, "a path must not be empty"),
        (("--bank", "{tmp}", "list"), 2, "is a folder"),
        (("--bank", "{tmp}/absent.json", "list"), 1, "no style bank at"),
        (("add", "x", "{tmp}/a.png", "--style-size", "-1"), 2, "--style-size"),
        (("add", "x", "{tmp}/a.png", "--style-size", "nan"), 2, "--style-size"),
        (("show", "../x"), 2, "style name '../x'"),
        (("export", "{tmp}/o.safetensors", "a b"), 2, "style name 'a b'"),
        (("nope",), 2, "invalid choice: 'nope'"),
    ],
)
def test_bad_options_exit_2_and_failures_1_with_one_line(
    adain: Callable, tmp_path: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    result = adain("bank", *(arg.replace("{tmp}", str(tmp_path)) for arg in args))
    assert result.code == code, result.err
    assert len(result.err_lines) == 1 and result.err_lines[0].startswith("adain bank") and message in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
