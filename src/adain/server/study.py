"""The A/B study: two stylizations of one (content, style) pair by two configurations, and which one
a person prefers, recorded in SQLite; win rates with Wilson 95% confidence intervals.

A *configuration* is a named set of :class:`~adain.pipeline.stylize.StylizeOptions` fields
(``alpha``, ``preserve_color``, ``guided_filter_radius``, ``multiscale``, ...) and optionally a
``decoder`` file, chosen by whoever runs the server in a JSON file::

    {"configurations": {"full": {"alpha": 1.0}, "soft": {"alpha": 0.6}},
     "styles": ["antimonocromatismo", "..."], "size": 384}

A trial draws a content image, a bank style and two different configurations, and shows them
in random order (left/right), so position cannot favour one. Only the choice is stored with the
trial; the report counts each trial once for each of its two configurations.
"""

from __future__ import annotations

import json
import math
import random
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from torch import Tensor

from adain._checks import is_int
from adain.errors import AdainError, UsageError
from adain.pipeline.options import StylizeOptions

__all__ = [
    "DEFAULT_CONFIGURATIONS",
    "StudyPlan",
    "StudyStore",
    "Trial",
    "format_report",
    "load_study_plan",
    "study_report",
    "wilson_interval",
]

#: Compared when no study file is given: full style, a softer one, and colour preservation.
DEFAULT_CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "alpha-1.0": {"alpha": 1.0},
    "alpha-0.6": {"alpha": 0.6},
    "preserve-color": {"alpha": 1.0, "preserve_color": "luminance"},
}
DEFAULT_STUDY_SIZE = 384
SIDES = ("left", "right")
#: two-sided 95% normal quantile
Z_95 = 1.959963984540054
_OPTION_FIELDS = {f.name for f in fields(StylizeOptions)} - {
    "mask",
    "mask_alphas",
    "style_weights",
    "max_pixels",
    "progress",
}


def wilson_interval(wins: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``wins / total`` (``(0, 1)`` when ``total`` is 0).

    Unlike the normal approximation it stays inside [0, 1] and is sensible for few trials or
    rates near 0 or 1.

    Example:
        >>> [round(x, 4) for x in wilson_interval(8, 10)]
        [0.4902, 0.9433]
    """
    if total <= 0:
        return 0.0, 1.0
    p = wins / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class StudyPlan:
    """What the study compares: ``configurations`` (name -> options and optional ``decoder``),
    ``styles`` (bank names; empty: every bank style) and the output ``size``."""

    configurations: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(DEFAULT_CONFIGURATIONS))
    styles: list[str] = field(default_factory=list)
    size: int = DEFAULT_STUDY_SIZE

    def options(self, name: str) -> StylizeOptions:
        settings = {k: v for k, v in self.configurations[name].items() if k != "decoder"}
        return StylizeOptions(**{"size": self.size, **settings})

    def decoder(self, name: str) -> Path | None:
        path = self.configurations[name].get("decoder")
        return None if path is None else Path(path)

    def check(self) -> StudyPlan:
        if len(self.configurations) < 2:
            raise UsageError(f"a study compares at least 2 configurations. Got {sorted(self.configurations)}")
        if not is_int(self.size, 8):
            raise UsageError(f"study size must be an integer >= 8. Got {self.size!r}")
        for name, settings in self.configurations.items():
            if not isinstance(settings, dict):
                raise UsageError(f"configuration {name!r} must be an object of options. Got {settings!r}")
            unknown = sorted(set(settings) - _OPTION_FIELDS - {"decoder"})
            if unknown:
                raise UsageError(
                    f"configuration {name!r}: unknown option(s) {unknown}; known: {sorted(_OPTION_FIELDS)}"
                )
            if settings.get("preserve_color") == "match":
                raise UsageError(
                    f"configuration {name!r}: preserve_color 'match' needs style images; bank styles are "
                    "statistics (use 'luminance')"
                )
            try:
                self.options(name).check(1)
            except TypeError as error:
                raise UsageError(f"configuration {name!r}: {error}") from None
        return self


def load_study_plan(path: Path | None) -> StudyPlan:
    """The plan of a JSON file (see the module docstring), or the default plan for ``None``."""
    if path is None:
        return StudyPlan().check()
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read study file {str(path)!r}: {error}") from None
    if not isinstance(data, dict):
        raise UsageError(f"study file {str(path)!r} must hold a JSON object")
    unknown = sorted(set(data) - {"configurations", "styles", "size"})
    if unknown:
        raise UsageError(f"study file {str(path)!r}: unknown key(s) {unknown}")
    plan = StudyPlan(
        configurations=data.get("configurations", dict(DEFAULT_CONFIGURATIONS)),
        styles=list(data.get("styles", [])),
        size=data.get("size", DEFAULT_STUDY_SIZE),
    )
    return plan.check()


@dataclass
class Trial:
    id: str
    content: str
    style: str
    left: str
    right: str
    winner: str | None = None

    def configuration(self, side: str) -> str:
        return self.left if side == "left" else self.right

    def public(self) -> dict[str, Any]:
        """What the page sees: no configuration names (the person must not know which is which)."""
        return {
            "id": self.id,
            "content": self.content,
            "style": self.style,
            "images": {side: f"/v1/study/trials/{self.id}/{side}" for side in SIDES},
        }


class StudyStore:
    """Trials and choices in one SQLite file (a connection per operation: safe from any thread)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("""CREATE TABLE IF NOT EXISTS trials (
                id TEXT PRIMARY KEY, created REAL NOT NULL, content TEXT NOT NULL, style TEXT NOT NULL,
                left_config TEXT NOT NULL, right_config TEXT NOT NULL, winner_side TEXT, decided REAL)""")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def new_trial(self, plan: StudyPlan, contents: list[str], styles: list[str], rng: random.Random) -> Trial:
        if not contents or not styles:
            raise AdainError("the study has no content images or no styles")
        left, right = rng.sample(sorted(plan.configurations), 2)
        trial = Trial(uuid.uuid4().hex, rng.choice(contents), rng.choice(styles), left, right)
        with self._connect() as db:
            db.execute(
                "INSERT INTO trials (id, created, content, style, left_config, right_config) VALUES (?,?,?,?,?,?)",
                (trial.id, time.time(), trial.content, trial.style, trial.left, trial.right),
            )
        return trial

    def trial(self, trial_id: str) -> Trial | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT id, content, style, left_config, right_config, winner_side FROM trials WHERE id = ?",
                (trial_id,),
            ).fetchone()
        return None if row is None else Trial(*row)

    def choose(self, trial_id: str, side: str) -> bool:
        """Record the preferred side; ``False`` if the trial was decided already."""
        with self._connect() as db:
            cursor = db.execute(
                "UPDATE trials SET winner_side = ?, decided = ? WHERE id = ? AND winner_side IS NULL",
                (side, time.time(), trial_id),
            )
            return cursor.rowcount == 1

    def decisions(self) -> list[tuple[str, str, str]]:
        """``(left configuration, right configuration, winning configuration)`` of every decided trial."""
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute("SELECT left_config, right_config, winner_side FROM trials WHERE winner_side IS NOT NULL")
            return [(left, right, left if side == "left" else right) for left, right, side in rows]


def _rate(wins: int, total: int) -> dict[str, Any]:
    low, high = wilson_interval(wins, total)
    return {"wins": wins, "comparisons": total, "win_rate": wins / total if total else None, "ci95": [low, high]}


def study_report(decisions: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Win rate of each configuration over its trials, and of each pair head to head (95% Wilson CIs)."""
    totals: dict[str, list[int]] = {}
    pairs: dict[tuple[str, str], list[int]] = {}
    for left, right, winner in decisions:
        for name in (left, right):
            totals.setdefault(name, [0, 0])
            totals[name][1] += 1
        totals[winner][0] += 1
        first, second = sorted((left, right))
        pair = pairs.setdefault((first, second), [0, 0])
        pair[0] += winner == first
        pair[1] += 1
    configurations = [
        {"configuration": name, **_rate(*totals[name])}
        for name in sorted(totals, key=lambda n: (-totals[n][0] / totals[n][1], n))
    ]
    head_to_head = [{"configuration": a, "against": b, **_rate(*pairs[(a, b)])} for a, b in sorted(pairs)]
    return {"trials": len(decisions), "configurations": configurations, "head_to_head": head_to_head}


def format_report(report: dict[str, Any]) -> str:
    """A plain-text table of :func:`study_report`."""
    if not report["trials"]:
        return "no decided trials yet"

    def row(label: str, item: dict[str, Any]) -> str:
        low, high = item["ci95"]
        return (
            f"{label:<40} {item['wins']:>5}/{item['comparisons']:<5} {item['win_rate']:>7.1%}   [{low:.1%}, {high:.1%}]"
        )

    lines = [
        f"{report['trials']} decided trials",
        "",
        f"{'configuration':<40} {'wins':>11} {'rate':>7}   95% CI (Wilson)",
    ]
    lines += [row(item["configuration"], item) for item in report["configurations"]]
    lines += ["", "head to head"]
    lines += [row(f"{item['configuration']} vs {item['against']}", item) for item in report["head_to_head"]]
    return "\n".join(lines)


def study_contents(folder: Path | None, max_images: int = 32, max_side: int = 1024) -> dict[str, Tensor]:
    """The study's content images by name: a folder's images (at most ``max_images``, shorter side
    at most ``max_side``), or scikit-image's example photos."""
    from adain.image.io import load_image
    from adain.image.sizing import resize_image, target_size
    from adain.pipeline.batch import expand_inputs

    if folder is None:
        from adain.image.examples import skimage_image

        return {name: skimage_image(name) for name in ("astronaut", "coffee", "chelsea", "rocket")}
    if not Path(folder).is_dir():
        raise UsageError(f"study content folder not found: {str(folder)!r}")
    items = [item for item in expand_inputs([Path(folder)]) if item.problem is None][:max_images]
    if not items:
        raise UsageError(f"no images in the study content folder {str(folder)!r}")
    contents = {}
    for item in items:
        rgb = load_image(item.path).rgb
        if min(rgb.shape[-2:]) > max_side:
            rgb = resize_image(rgb, target_size(rgb.shape[2], rgb.shape[3], size=max_side)).clamp(0, 1)
        contents[item.relative.as_posix()] = rgb
    return contents
