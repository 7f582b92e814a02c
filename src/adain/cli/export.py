"""``adain export onnx``: the encoder, the decoder or the whole pipeline as an ONNX file.

Everything checkable without weights (part, output name and folder, opset, preset, decoder
file, the ``onnx`` package) is checked first, each failure one line: usage errors exit 2,
an unwritable output or a missing package exit 1. The file is written atomically (never half
a file) and carries its preset, part, opset and weights' sha256 as ONNX metadata, which the
onnxruntime backend (``adain stylize --backend onnxruntime``) checks. When onnxruntime is
installed the export is run once against PyTorch and the largest difference printed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from adain._files import temporary_beside
from adain.backends.onnx_export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, ONNX_PARTS, check_opset, check_part
from adain.errors import AdainError, MissingWeightsError, OutputError, UsageError
from adain.models import Decoder, VGGEncoder
from adain.weights.presets import DEFAULT_PRESET, get_preset
from adain.weights.store import regular_file

__all__ = ["add_parser", "run"]

EPILOG = f"""\
parts:
  encoder   image (B,3,H,W) RGB in [0,1] -> relu1_1, relu2_1, relu3_1, relu4_1
  decoder   relu4_1 (B,512,h,w) -> image (B,3,8h,8w), unclamped; a multi-level decoder also takes
            the AdaIN'd features at its skip taps: relu3_1 (B,256,2h,2w), relu2_1 (B,128,4h,4w),
            relu1_1 (B,64,8h,8w) (those it was trained with, in that order)
  pipeline  content (B,3,H,W), style_mean and style_std (1,512,1,1) (a style's relu4_1 statistics),
            alpha (1,) -> image (B,3,H,W) in [0,1]; with a multi-level decoder then
            style_mean_<tap> and style_std_<tap> (1,C,1,1) for each of its skip taps
Height and width are dynamic; pad them to multiples of 8 (reflect, right and bottom) and crop the
output back, as adain.backends.onnx_runtime.OnnxPipelineModel does.

examples:
  adain export onnx --part pipeline -o adain.onnx
  adain export onnx --part decoder --decoder my-decoder.safetensors -o decoder.onnx --opset 18

exit codes: 0 written, 1 a failure (missing weights or package, unwritable output),
2 a usage error (unknown part, bad opset, output not .onnx). Opsets {MIN_OPSET}..{MAX_OPSET}."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export",
        help="export the networks for other runtimes (ONNX)",
        description="Export the encoder, the decoder or the whole AdaIN pipeline.",
    )
    formats = parser.add_subparsers(dest="export_format", metavar="FORMAT", required=True)
    onnx = formats.add_parser(
        "onnx",
        help="an ONNX file with dynamic batch, height and width",
        description="Export to ONNX (needs the 'onnx' extra: pip install 'adain[onnx]').",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    onnx.add_argument("--preset", default=DEFAULT_PRESET, help=f"encoder preset (default {DEFAULT_PRESET})")
    onnx.add_argument(
        "--decoder", metavar="FILE", help="decoder weights (.safetensors or .pth) instead of the preset's"
    )
    onnx.add_argument(
        "--part", default="pipeline", metavar="PART", help=f"what to export: {', '.join(ONNX_PARTS)} (default pipeline)"
    )
    onnx.add_argument("-o", "--output", metavar="FILE.onnx", help="the file to write (required)")
    onnx.add_argument(
        "--opset",
        default=str(DEFAULT_OPSET),
        metavar="N",
        help=f"ONNX opset, {MIN_OPSET}..{MAX_OPSET} (default {DEFAULT_OPSET})",
    )
    onnx.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the check against PyTorch (it runs when onnxruntime is installed)",
    )
    onnx.set_defaults(run=run)
    return onnx


def _opset(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--opset must be an integer in [{MIN_OPSET}, {MAX_OPSET}]. Got {text!r}") from None
    try:
        return check_opset(value)
    except UsageError:
        raise UsageError(f"--opset must be in [{MIN_OPSET}, {MAX_OPSET}]. Got {text!r}") from None


def _check_output(text: str | None) -> Path:
    """The output path, its folder created and writable; nothing is written yet."""
    if not text:
        raise UsageError("give the file to write with -o FILE.onnx")
    path = Path(text)
    if path.suffix.lower() != ".onnx":
        raise UsageError(f"the output must be a .onnx file. Got {text!r}")
    if path.is_dir():
        raise OutputError(f"cannot write {text!r}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the folder of {text!r}: {error.strerror or error}") from None
    try:  # a probe file: permissions, read-only mounts and pseudo file systems all show here
        temporary_beside(path, suffix=".probe").unlink()
    except OSError as error:
        raise OutputError(f"cannot write {text!r}: {error.strerror or error}") from None
    return path


def run(args: argparse.Namespace) -> int:
    # 1. everything checkable without weights
    part = check_part(args.part)
    opset = _opset(args.opset)
    get_preset(args.preset)
    if args.decoder is not None and part == "encoder":
        raise UsageError("--decoder has no effect with --part encoder")
    decoder_path = Path(args.decoder) if args.decoder is not None else None
    if args.decoder == "":
        raise UsageError("--decoder needs a file name. Got ''")
    if decoder_path is not None:
        if not os.path.lexists(decoder_path):
            raise MissingWeightsError(f"decoder file not found: {args.decoder!r}")
        regular_file(decoder_path, "--decoder")  # a folder, a FIFO, a symlink loop: one line, before it is opened
    output = _check_output(args.output)
    from adain.backends.onnx_export import export_onnx, require_module

    require_module("onnx", "adain export onnx")

    # 2. weights (only those the part needs)
    from adain.weights import load_decoder, load_encoder
    from adain.weights.store import file_sha256

    decoder = load_decoder(args.preset, path=decoder_path) if part in ("decoder", "pipeline") else None
    encoder = load_encoder(args.preset) if part in ("encoder", "pipeline") else None
    extra = {}
    if decoder_path is not None:
        extra = {"decoder_file": decoder_path.name, "decoder_file_sha256": file_sha256(decoder_path)}

    # 3. export to a temporary name, one run against PyTorch, then the rename: an existing file at
    # the output is replaced only by a complete, verified export
    staging = output.with_name(f".{output.stem}.{os.getpid()}.part.onnx")
    try:
        try:
            exported = export_onnx(
                part, staging, args.preset, encoder=encoder, decoder=decoder, opset=opset, extra_metadata=extra
            )
        except OutputError as error:
            raise OutputError(f"cannot write {str(output)!r}: {error}") from None
        note = _verify(staging, encoder, decoder) if not args.no_verify else "not verified (--no-verify)"
        size_mb = staging.stat().st_size / 1e6
        try:
            os.replace(staging, output)
        except OSError as error:
            raise OutputError(f"cannot write {str(output)!r}: {error.strerror or error}") from None
    finally:
        staging.unlink(missing_ok=True)
    print(
        f"wrote {output} ({part}{_decoder_note(decoder)} of {exported.preset}, opset {opset}, {size_mb:.1f} MB; {note})"
    )
    return 0


def _decoder_note(decoder: Decoder | None) -> str:
    """`` with a multi-level decoder (relu4_1, relu3_1, ...)`` when the graph takes more than
    relu4_1, so the user sees the inputs a runtime must feed; empty for the paper's decoder."""
    from adain.models import decoder_input_taps

    if decoder is None or decoder_input_taps(decoder) == ("relu4_1",):
        return ""
    return f" with a multi-level decoder ({', '.join(decoder_input_taps(decoder))})"


def _verify(output: Path, encoder: VGGEncoder | None, decoder: Decoder | None) -> str:
    from adain.backends.onnx_runtime import PARITY_TOLERANCE, verify_export
    from adain.errors import MissingDependencyError

    try:
        difference = verify_export(output, encoder, decoder)
    except MissingDependencyError:
        return "not verified: onnxruntime is not installed"
    if difference > PARITY_TOLERANCE:
        raise AdainError(
            f"the export differs from PyTorch by {difference:.2e} (more than {PARITY_TOLERANCE:g}), so it was not "
            "written; please report it with your torch, onnx and onnxruntime versions"
        )
    return f"onnxruntime matches PyTorch within {difference:.1e}"
