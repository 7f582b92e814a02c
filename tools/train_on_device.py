#!/usr/bin/env python3
"""Train a decoder on the lent GPU machine: ``pack`` here, ``run`` there.

The GPU machine runs one shell command in a copy of the working tree (tracked files plus the
git-ignored paths named in ``carry``), with its own torch but not this package installed and no
network. So ``pack`` puts everything a run needs into the git-ignored ``device-pack/``, and
``run`` trains from it with ``PYTHONPATH=src python3 -c '<adain.cli.main.main, train only>' train ...``
(:data:`TRAIN_ENTRY`: ``-m adain.cli.main`` needs FastAPI there).

Here, once (CPU; the training data and the vgg16-hed encoder from ``adain weights prepare``)::

    .venv/bin/python tools/train_on_device.py pack        # --help for the options

The device call (``run`` trains for TIME_BUDGET seconds, 480 by default, then exports; the
command takes about TIME_BUDGET + 40 s, at most TIME_BUDGET + 75 s; the pack, at most 54 MB
(images under 40 MB, the encoder and the init decoder 17.5 MB), and the tracked tree, about
10 MB, stay under the 64 MiB a call carries)::

    command:   python3 tools/train_on_device.py run
    carry:     ["device-pack"]
    timeout_s: 600

(no ``.venv``: the machine has its own torch. With less device time left, shorten the training:
``TIME_BUDGET=300 python3 tools/train_on_device.py run``; ``DECODER=plain ...`` for the plain one.)

Comes back under $OUT: ``decoder.safetensors`` + ``manifest.json`` (the exported moving
average; ``adain.weights.load_decoder("vgg16-hed", path=...)`` reads it), ``loss_curve.png``,
``history.json`` (the logged losses), ``summary.json`` and ``train.log``. The last line printed
is a one-line summary (steps, s/step, final losses).

``device-pack/`` holds (a) the training images of ``../shared/data`` minus the selection split
(``--selection-fraction``, 0.1 by default, the split ``adain train --selection-fraction`` holds out:
:func:`adain.train.data.selection_split`), as JPEG with shorter side 256 (file names kept, a
``.png``'s too, so the split is the same there), content and style in their own folders, under
a size budget (54 MB for the whole pack, so the images get about 36 MB: JPEG quality is lowered down to ``--min-quality``, then
a fixed subset of each folder kept, and either is printed); (b) ``home/``, an ADAIN_HOME with
the encoder and its manifest entry, so the run downloads nothing; (c) ``init/``, the decoder the
run starts from (the shipped one by default) with its manifest entry. The images are not ours to
redistribute: the pack is git-ignored and must never be committed; nothing derived pixel-wise
from it is copied to $OUT unless SAMPLES=1 (the last sample grid: do not commit it either).

``run`` is configured by environment variables (defaults: the GPU recipe)::

    DEVICE=cuda  PRECISION=auto (cuda: bf16 where supported, else fp16; cpu: fp32)
    DECODER=multilevel (or plain)  SKIP_LR=1e-3 (multilevel's skips and gates; 0: LR)
    BATCH=16  CROP=256  RESIZE=256  LR=1e-4  LR_DECAY=5e-5  CONTENT_WEIGHT=1  STYLE_WEIGHT=10
    STYLE_ZOOM=0.7,2.0  STYLE_JITTER=0.3  EMA=0.999  SEED=0
    TIME_BUDGET=480 (seconds of training, all segments together)  STEPS=100000000 (a cap)
    FIRST_STEPS=300 (the first segment, which measures s/step)  WORKERS (cuda: cores - 2, at most
    12; cpu: 0)  THREADS (cpu: 1; cuda: 0, torch's default)  LOG_EVERY=10  SAMPLE_EVERY=1000
    CHECKPOINT_MINUTES=1  PACK=device-pack  OUT=$OUT (else /tmp/adain-device-out)
    RUN_DIR=/tmp/adain-device-run-$DECODER (a checkpoint there is resumed: a second call on a
    warm machine continues the run; its saved recipe wins)  EXTRA_ARGS (more `adain train` flags
    for a new run)  SAMPLES=0

Why segments: ``adain train`` saves nothing on SIGINT/SIGTERM (the CLI returns 130 and the
steps since the last checkpoint are lost), and has no time limit. So ``run`` trains in
successive ``--resume`` segments, each to a step count planned from the time left and the s/step
measured so far (the TensorBoard log's wall times; else segment walls), each ending in a
checkpoint. A segment still running at the deadline gets SIGINT; then only the steps since its
last checkpoint (CHECKPOINT_MINUTES) are lost.

A CPU check: ``DEVICE=cpu STEPS=3 BATCH=2 CROP=64 LOG_EVERY=1 OUT=/tmp/o RUN_DIR=/tmp/r
.venv/bin/python tools/train_on_device.py run``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # this tree's package, installed or not (the device has none)

#: the file that marks a folder as a pack this tool wrote (and may replace)
MARKER = ".device-pack"
PACK_INFO = "pack.json"
MB = 1_000_000
#: ``adain train`` through the CLI's ``main`` (its errors, exit codes, the command line it records) with
#: only the train command registered: ``python -m adain.cli.main`` builds every command's parser, and
#: ``adain serve``'s imports FastAPI, which the device machine lacks
TRAIN_ENTRY = "import sys, adain.cli.main as cli; cli.COMMANDS = {'train': 'adain.cli.train'}; sys.exit(cli.main())"


# -- pack -------------------------------------------------------------------------------------------
def _order_key(path: Path) -> str:
    """A fixed order for subsampling that mixes the sources (file names start with their source)."""
    return hashlib.blake2b(path.name.encode(), digest_size=8, person=b"device-pack").hexdigest()


class _Image:
    """One training image: decoded (and resized) once, encodable at any quality."""

    def __init__(self, source: Path, relative: Path, side: int) -> None:
        from PIL import Image

        self.source = source
        #: the name in the pack: the source's, also a ``.png``'s (then holding JPEG data; Pillow reads the
        #: data, not the suffix), so the selection split, a hash of the file name, is the same there
        self.relative = relative
        with Image.open(source) as image:
            width, height = image.size
            self.resized = min(width, height) > side
            scale = side / min(width, height)
            size = (
                (max(side, round(width * scale)), max(side, round(height * scale))) if self.resized else (width, height)
            )
            # only a JPEG that needs no resizing can travel as it is (no second generation of loss)
            self.original = (
                source.read_bytes()
                if image.format == "JPEG" and image.mode in ("RGB", "L") and not self.resized
                else None
            )
            if self.resized:
                image.draft("RGB", size)  # JPEG: decode at a reduced scale (still >= size), much faster
            image = image.convert("RGB")
            self.image = image.resize(size, Image.Resampling.LANCZOS) if image.size != size else image
        self._encoded: dict[int, bytes] = {}

    def data(self, quality: int) -> bytes:
        """The JPEG bytes at ``quality``, or the original file's (the very pixels training reads here)."""
        if self.original is not None:
            return self.original
        if quality not in self._encoded:
            buffer = io.BytesIO()
            self.image.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
            encoded = buffer.getvalue()
            self._encoded = {quality: encoded}  # keep one quality: memory
        return self._encoded[quality]


def _quality_for(images: list[_Image], budget: int, quality: int, min_quality: int) -> tuple[int, list[str]]:
    """The highest quality in ``quality, quality - 5, ... min_quality`` whose estimated total (from
    every 8th image) fits ``budget``; else ``min_quality``."""
    sample = images[::8]
    estimates = {}
    for candidate in [*range(quality, min_quality, -5), min_quality]:
        estimates[candidate] = sum(len(image.data(candidate)) for image in sample) * len(images) / max(1, len(sample))
        if estimates[candidate] <= budget or candidate == min_quality:
            break
    notes = []
    if candidate != quality:
        notes.append(
            f"JPEG quality {quality} would make about {estimates[quality] / MB:.1f} MB of images, over their "
            f"{budget / MB:.1f} MB budget: quality {candidate} instead (about {estimates[candidate] / MB:.1f} MB)"
        )
    return candidate, notes


def _subsample(groups: dict[str, list[_Image]], quality: int, budget: int) -> tuple[dict[str, list[_Image]], float]:
    """The largest share ``p`` of each group (the first ``ceil(p * n)`` in :func:`_order_key` order)
    whose bytes fit ``budget``, and ``p``."""
    ordered = {kind: sorted(images, key=lambda image: _order_key(image.source)) for kind, images in groups.items()}
    sizes = {kind: [len(image.data(quality)) for image in images] for kind, images in ordered.items()}

    def kept(share: float) -> dict[str, int]:
        return {kind: max(1, math.ceil(share * len(images))) for kind, images in ordered.items()}

    def total(share: float) -> int:
        return sum(sum(sizes[kind][:count]) for kind, count in kept(share).items())

    if total(1.0) <= budget:
        return groups, 1.0
    low, high = 0.0, 1.0
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if total(middle) <= budget else (low, middle)
    if total(low) > budget:
        raise SystemExit(f"pack: even one image per folder is over the {budget / MB:.2f} MB image budget")
    counts = kept(low)
    return {kind: sorted(ordered[kind][: counts[kind]], key=lambda image: image.relative) for kind in ordered}, low


def _copy_component(source: Path, target_dir: Path, required_entry: bool) -> dict:
    """Copy a weights file and its manifest entry (only it) to ``target_dir``; the entry is returned."""
    from adain.weights.store import file_sha256, read_manifest

    entry = read_manifest(source.parent).get(source.stem)
    if entry is None and required_entry:
        raise SystemExit(f"pack: {source} has no entry in {source.parent / 'manifest.json'}")
    if entry is not None and entry.get("sha256") and entry["sha256"] != file_sha256(source):
        raise SystemExit(f"pack: {source} does not match the sha256 of its manifest entry (re-create it)")
    target_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target_dir / source.name)
    if entry is not None:
        (target_dir / "manifest.json").write_text(json.dumps({source.stem: entry}, indent=2, sort_keys=True) + "\n")
    return entry or {}


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def pack(args: argparse.Namespace) -> int:
    from PIL import Image

    from adain.train.data import find_images, selection_split
    from adain.weights.store import adain_home, component_path

    out: Path = args.out
    if out.exists():
        if not (out / MARKER).exists() and any(out.iterdir()):
            raise SystemExit(f"pack: {out} exists and is not a pack this tool wrote: choose another --out")
        shutil.rmtree(out)
    encoder = component_path(args.preset, "encoder", args.home or adain_home())
    if not encoder.is_file():
        raise SystemExit(
            f"pack: no {args.preset} encoder at {encoder}: run `adain weights prepare {args.preset}` first"
        )
    init = args.init
    if not init.is_file():
        raise SystemExit(f"pack: no init decoder at {init}")
    out.mkdir(parents=True)
    (out / MARKER).write_text("written by tools/train_on_device.py pack; replaced by the next pack\n")
    encoder_entry = _copy_component(encoder, out / "home" / args.preset, required_entry=True)
    _copy_component(init, out / "init", required_entry=False)
    weights_bytes = _folder_bytes(out)
    budget = int(args.max_mb * MB) - weights_bytes - 64 * 1024  # the rest: manifests, pack.json
    if budget <= 0:
        raise SystemExit(f"pack: the weights alone ({weights_bytes / MB:.1f} MB) fill the {args.max_mb:g} MB budget")

    groups: dict[str, list[_Image]] = {}
    info: dict = {
        "preset": args.preset,
        "selection_fraction": args.selection_fraction,
        "side": args.side,
        "source": str(args.data),
        "init": f"init/{init.name}",
        "encoder_sha256": encoder_entry.get("sha256"),
        "note": "derived from the training data, which are not ours to redistribute: never commit this folder "
        "or anything made from its images",
    }
    for kind in ("content", "style"):
        root = args.data / kind
        files = find_images(root)
        training, selection = selection_split(files, args.selection_fraction)
        groups[kind], unreadable = [], []
        for path in training:
            try:
                groups[kind].append(_Image(path, path.relative_to(root), args.side))
            except (OSError, ValueError, Image.DecompressionBombError):  # training skips these too
                unreadable.append(path)
        if unreadable:
            print(f"pack: left out {len(unreadable)} unreadable image(s) of {root}, e.g. {unreadable[0]}")
        names = [image.relative for image in groups[kind]]
        if len(set(names)) != len(names):
            raise SystemExit(f"pack: two images of {root} would have the same name in the pack")
        info[kind] = {"source_images": len(files), "selection_split": len(selection), "unreadable": len(unreadable)}
    everything = groups["content"] + groups["style"]
    quality, notes = _quality_for(everything, budget, args.quality, args.min_quality)
    chosen, share = _subsample(groups, quality, budget)
    if share < 1.0:
        notes.append(
            f"at quality {quality} the images are still over their {budget / MB:.1f} MB budget: kept a fixed "
            f"{share:.1%} of each folder (file-name hash order)"
        )
    for kind, images in chosen.items():
        folder = out / kind
        written = 0
        for image in images:
            path = folder / image.relative
            path.parent.mkdir(parents=True, exist_ok=True)
            data = image.data(quality)
            path.write_bytes(data)
            written += len(data)
        info[kind].update(
            images=len(images),
            dropped_for_budget=len(groups[kind]) - len(images),
            resized=sum(image.resized for image in images),
            copied_as_is=sum(image.original is not None for image in images),
            bytes=written,
        )
    info.update(quality=quality, kept_share=share, notes=notes, weights_bytes=weights_bytes)
    (out / PACK_INFO).write_text(json.dumps(info, indent=2) + "\n")
    total = _folder_bytes(out)
    for note in notes:
        print(f"pack: {note}")
    for kind in ("content", "style"):
        entry = info[kind]
        print(
            f"pack: {kind}: {entry['images']} images ({entry['bytes'] / MB:.1f} MB) of {entry['source_images']}: "
            f"{entry['selection_split']} in the selection split ({args.selection_fraction:g}), "
            f"{entry['dropped_for_budget']} left out for the budget; {entry['resized']} resized to shorter side "
            f"{args.side}, {entry['copied_as_is']} copied as they were"
        )
    print(
        f"pack: {out}: {total / MB:.1f} MB ({total / 2**20:.1f} MiB) of at most {args.max_mb:g} MB "
        f"(encoder and init decoder {weights_bytes / MB:.1f} MB; JPEG quality {quality})"
    )
    if total > args.max_mb * MB:
        raise SystemExit(f"pack: {total / MB:.2f} MB is over the {args.max_mb:g} MB budget")
    return 0


# -- run --------------------------------------------------------------------------------------------
def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "")
    return value if value != "" else default


def _checkpoint(run_dir: Path) -> dict | None:
    import torch

    path = run_dir / "checkpoint.pt"
    return torch.load(path, map_location="cpu", weights_only=True) if path.exists() else None


def _logged_times(run_dir: Path, skip: set[Path]) -> list[tuple[int, float]]:
    """``(step, wall time)`` of each logged loss in the TensorBoard files not in ``skip``; [] without tensorboard."""
    try:
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    except ImportError:
        return []
    times = []
    for path in sorted((run_dir / "tensorboard").glob("events.out.tfevents.*")):
        if path in skip:
            continue
        try:
            for event in EventFileLoader(str(path)).Load():
                if any(value.tag == "train/loss" for value in event.summary.value):
                    times.append((int(event.step), float(event.wall_time)))
        except Exception:
            continue
    return sorted(times)


def _tail(path: Path, lines: int) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _segment(command: list[str], env: dict, log: Path, timeout: float) -> tuple[int, bool]:
    """Run one ``adain train`` to its end or, past ``timeout`` seconds, SIGINT it; ``(rc, interrupted)``."""
    with open(log, "a") as handle:
        handle.write(f"\n$ {shlex.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(command, env=env, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT)
        try:
            return process.wait(timeout=max(1.0, timeout)), False
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            return process.returncode, True


def run(_: argparse.Namespace) -> int:
    import torch

    started = time.monotonic()
    pack_dir = Path(_env("PACK", "device-pack"))
    pack_dir = pack_dir if pack_dir.is_absolute() else REPO / pack_dir
    if not (pack_dir / PACK_INFO).exists():
        raise SystemExit(f"run: no pack at {pack_dir} (make one with `tools/train_on_device.py pack`, carry it)")
    info = json.loads((pack_dir / PACK_INFO).read_text())
    device = _env("DEVICE", "cuda")
    cuda = device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit("run: DEVICE=cuda but torch sees no CUDA device (DEVICE=cpu to run on the CPU)")
    precision = _env("PRECISION", "auto")
    if precision == "auto":
        precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
    decoder = _env("DECODER", "multilevel")
    out = Path(_env("OUT", "/tmp/adain-device-out")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    run_dir = Path(_env("RUN_DIR", f"/tmp/adain-device-run-{decoder}")).resolve()
    budget = float(_env("TIME_BUDGET", "480"))
    max_steps = int(_env("STEPS", "100000000"))
    first_steps = int(_env("FIRST_STEPS", "300"))
    workers = _env("WORKERS", str(max(0, min(12, (os.cpu_count() or 2) - 2))) if cuda else "0")
    threads = _env("THREADS", "0" if cuda else "1")
    log = out / "train.log"
    env = dict(
        os.environ,
        ADAIN_HOME=str(pack_dir / "home"),
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]),
    )
    if not cuda:
        env.setdefault("OMP_NUM_THREADS", threads if threads != "0" else "1")
    adain = [sys.executable, "-c", TRAIN_ENTRY, "train"]
    data = ["--content", str(pack_dir / "content"), "--style", str(pack_dir / "style"), "--run-dir", str(run_dir)]
    how = [
        "--device",
        device,
        "--threads",
        threads,
        "--workers",
        workers,
        "--checkpoint-every",
        "1000000000",
        "--checkpoint-minutes",
        _env("CHECKPOINT_MINUTES", "1"),
        "--sample-every",
        _env("SAMPLE_EVERY", "1000"),
        "--log-every",
        _env("LOG_EVERY", "10"),
        "--no-progress",
    ]
    recipe = [
        "--preset",
        info["preset"],
        "--decoder",
        decoder,
        "--init",
        str(pack_dir / info["init"]),
        "--selection-fraction",
        str(info["selection_fraction"]),
        "--batch-size",
        _env("BATCH", "16"),
        "--crop-size",
        _env("CROP", "256"),
        "--resize-shorter",
        _env("RESIZE", "256"),
        "--lr",
        _env("LR", "1e-4"),
        "--lr-decay",
        _env("LR_DECAY", "5e-5"),
        "--content-weight",
        _env("CONTENT_WEIGHT", "1"),
        "--style-weight",
        _env("STYLE_WEIGHT", "10"),
        "--style-zoom",
        _env("STYLE_ZOOM", "0.7,2.0"),
        "--style-color-jitter",
        _env("STYLE_JITTER", "0.3"),
        "--ema-decay",
        _env("EMA", "0.999"),
        "--precision",
        precision,
        "--seed",
        _env("SEED", "0"),
    ]
    if decoder == "multilevel":
        recipe += ["--skip-lr", _env("SKIP_LR", "1e-3")]
    recipe += _env("EXTRA_ARGS", "").split()

    state = _checkpoint(run_dir)
    start_step = int(state["step"]) if state else 0
    if state:
        saved = state["config"]
        print(
            f"run: resuming {run_dir} at step {start_step} (its recipe wins: decoder {saved.get('decoder')}, "
            f"precision {saved.get('precision')})",
            flush=True,
        )
    del state
    print(
        f"run: {device} {precision}, decoder {decoder}, batch {_env('BATCH', '16')}, crop {_env('CROP', '256')}, "
        f"{workers} workers, training for at most {budget:g} s (log: {log})",
        flush=True,
    )
    deadline = started + budget
    step = start_step
    segments: list[dict] = []
    seconds_per_step: float | None = None
    overhead = 0.0
    interrupted = False
    while step < max_steps:
        remaining = deadline - time.monotonic()
        margin = 5.0 + 0.03 * remaining
        if seconds_per_step is None:
            planned = first_steps
        else:
            planned = int((remaining - overhead - margin) / seconds_per_step)
            if planned * seconds_per_step < 15.0:
                break  # not worth another start
        if remaining < 10.0:
            break
        target = min(max_steps, step + max(1, planned))
        before = set((run_dir / "tensorboard").glob("events.out.tfevents.*"))
        command = adain + data + (["--resume"] if (run_dir / "checkpoint.pt").exists() else recipe) + how
        command += ["--steps", str(target)]
        began = time.monotonic()
        rc, interrupted = _segment(command, env, log, remaining)
        wall = time.monotonic() - began
        state = _checkpoint(run_dir)
        reached = int(state["step"]) if state else step
        del state
        done = reached - step
        times = _logged_times(run_dir, before)
        if len(times) >= 2 and times[-1][0] > times[0][0]:
            measured = (times[-1][1] - times[0][1]) / (times[-1][0] - times[0][0])
        else:
            measured = None
        segments.append(
            {
                "from_step": step,
                "to_step": reached,
                "planned_to": target,
                "wall_s": round(wall, 1),
                "s_per_step_logged": measured,
                "rc": rc,
                "interrupted": interrupted,
            }
        )
        print(
            f"run: segment {len(segments)}: steps {step} -> {reached} (planned {target}) in {wall:.0f} s"
            + (f", {measured:.4f} s/step logged" if measured else "")
            + (", interrupted at the deadline" if interrupted else ""),
            flush=True,
        )
        if rc != 0 and not interrupted:
            print(_tail(log, 30), file=sys.stderr)
            raise SystemExit(f"run: adain train failed (exit {rc}); see {log}")
        step = reached
        if interrupted or done <= 0:
            break
        if measured:
            seconds_per_step, overhead = measured, max(0.0, wall - measured * done)
        elif (
            len(segments) >= 2
            and segments[-1]["to_step"] - segments[-1]["from_step"]
            != segments[-2]["to_step"] - segments[-2]["from_step"]
        ):
            (n1, w1), (n2, w2) = [(s["to_step"] - s["from_step"], s["wall_s"]) for s in segments[-2:]]
            slope = (w2 - w1) / (n2 - n1)
            seconds_per_step, overhead = (slope, max(0.0, w2 - slope * n2)) if slope > 0 else (w2 / n2, 0.0)
        else:
            seconds_per_step, overhead = wall / done, 0.0  # conservative: the start counted as steps
    trained_s = time.monotonic() - started

    if not (run_dir / "checkpoint.pt").exists():
        raise SystemExit(f"run: no checkpoint in {run_dir}: nothing to export (see {log})")
    rc, _ = _segment(
        [*adain, "--run-dir", str(run_dir), "--export", str(out / "decoder.safetensors"), "--export-only"],
        env,
        log,
        300,
    )
    if rc != 0:
        print(_tail(log, 30), file=sys.stderr)
        raise SystemExit(f"run: export failed (exit {rc}); see {log}")
    state = _checkpoint(run_dir)
    history = list(state.get("history", []))
    config = state["config"]
    final_step = int(state["step"])
    del state
    (out / "history.json").write_text(json.dumps(history) + "\n")
    if (run_dir / "loss_curve.png").exists():
        shutil.copyfile(run_dir / "loss_curve.png", out / "loss_curve.png")
    if _env("SAMPLES", "0") == "1":
        grids = sorted((run_dir / "samples").glob("step_*.png"))
        if grids:
            shutil.copyfile(grids[-1], out / "samples_last.png")
    logged = [s["s_per_step_logged"] for s in segments if s["s_per_step_logged"]]
    steps_now = final_step - start_step
    last = history[-1] if history else {}
    summary = {
        "steps": final_step,
        "steps_this_call": steps_now,
        "segments": segments,
        "s_per_step_logged": logged[-1] if logged else None,
        "s_per_step_wall": trained_s / steps_now if steps_now else None,
        "training_wall_s": round(trained_s, 1),
        "final_losses": {k: last[k] for k in ("loss", "content", "style", "pixel") if k in last},
        "device": device,
        "precision": config.get("precision"),
        "decoder": config.get("decoder"),
        "batch_size": config.get("batch_size"),
        "crop_size": config.get("crop_size"),
        "run_dir": str(run_dir),
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    losses = ", ".join(f"{k} {v:.4g}" for k, v in summary["final_losses"].items()) or "none logged"
    rate = f"{summary['s_per_step_logged']:.4f} s/step (logged)" if summary["s_per_step_logged"] else ""
    if summary["s_per_step_wall"]:
        rate += (", " if rate else "") + f"{summary['s_per_step_wall']:.4f} s/step (wall, with starts)"
    print(
        f"SUMMARY: {final_step} steps ({steps_now} this call, {len(segments)} segment(s), {trained_s:.0f} s), "
        f"{rate or 'no steps'}; {config.get('decoder')} {config.get('precision')} batch {config.get('batch_size')} "
        f"crop {config.get('crop_size')}; final losses (last log window at step {last.get('step', '-')}): {losses}; "
        f"decoder: {out / 'decoder.safetensors'}"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Pack the training run for the GPU machine, or run it there.",
        epilog="See the module docstring (the file's header) for the device call.",
    )
    commands = parser.add_subparsers(dest="mode", required=True)
    packer = commands.add_parser("pack", help="write device-pack/ (here): images, encoder, init decoder")
    packer.add_argument("--data", type=Path, default=REPO / ".." / "shared" / "data", help="holds content/ and style/")
    packer.add_argument("--out", type=Path, default=REPO / "device-pack", help="the pack folder (git-ignored)")
    packer.add_argument(
        "--init",
        type=Path,
        default=REPO / "src/adain/weights/shipped/vgg16-hed-decoder.safetensors",
        help="the decoder the run starts from (default: the shipped one)",
    )
    packer.add_argument(
        "--home", type=Path, help="the ADAIN_HOME that holds the encoder (default: $ADAIN_HOME or the cache)"
    )
    packer.add_argument("--preset", default="vgg16-hed")
    packer.add_argument("--selection-fraction", type=float, default=0.1, help="held out of the pack (default 0.1)")
    packer.add_argument("--side", type=int, default=256, help="shorter side of the packed images (smaller ones stay)")
    packer.add_argument("--quality", type=int, default=85, help="JPEG quality (default 85)")
    packer.add_argument(
        "--min-quality", type=int, default=70, help="lowest quality to fit the budget before subsampling (default 70)"
    )
    packer.add_argument(
        "--max-mb",
        type=float,
        default=54.0,
        help="the whole pack's size budget, MB (default 54: images ~36 MB + weights 17.5 MB, and the "
        "tracked tree ~10 MB, within the 64 MiB a device call carries)",
    )
    packer.set_defaults(func=pack)
    runner = commands.add_parser("run", help="train from the pack and export (the device command); set by env vars")
    runner.set_defaults(func=run)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
