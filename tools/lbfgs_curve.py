"""Where a decoder sits on the optimization reference's curve: L-BFGS losses after each iteration.

Usage: .venv/bin/python tools/lbfgs_curve.py ITERATIONS [THREADS] [OUT.json]   (needs ../shared/data/val)

The paper (section 7.1, Fig. 3) places its decoder on this curve: its style loss is that of Gatys-style
optimization "between 50 and 100 iterations". This runs the eval's reference (`adain eval`: L-BFGS on the
AdaIN objective from the content image, 256 px, `adain.pipeline.optimize.reference_lbfgs`) on every
val pair and prints, per iteration, the mean and median content and style loss of the clamped image, as
the eval scores outputs. Iteration 0 is the unstylized content, so its row equals the eval's `content` row.
The run has the reference's budget of 2 function evaluations per iteration, for ITERATIONS iterations; a
row counts the pairs whose run got to that iteration within it (the others contribute their last point).
A run of only k iterations has a budget of 2k and may stop before its k-th (measured: 3 iterations alone
reached 1,484 mean style loss, against 581 after iteration 3 of a 12-iteration run).

Every function evaluation is scored (clamped, no gradient); the image after iteration k is taken as the
best trial point of iterations <= k (strong-Wolfe steps only descend), which is what L-BFGS holds then.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import torch

from adain.eval.evaluate import _load_at, find_pairs
from adain.pipeline.optimize import AdainObjective, reference_lbfgs
from adain.pipeline.stylize import StylizationPipeline


def curve_of_pair(objective: AdainObjective, content: torch.Tensor, iterations: int) -> list[tuple[float, float, bool]]:
    """(content loss, style loss, reached) of the clamped image after 0..iterations L-BFGS iterations.

    ``reached`` is False past the iteration where the run spent its evaluation budget (2 per iteration,
    as the eval's reference has): those rows repeat the last point.
    """
    image = content.clone().requires_grad_(True)
    optimizer = reference_lbfgs(image, iterations)
    trials: list[tuple[int, float, float, float]] = []  # (iteration, objective, clamped content, clamped style)

    def closure() -> torch.Tensor:
        iteration = optimizer.state[image].get("n_iter", 0)
        optimizer.zero_grad()
        loss = objective.losses(image)["loss"]
        loss.backward()
        with torch.no_grad():
            clamped = objective.losses(image.detach().clamp(0, 1))
        trials.append((iteration, loss.item(), clamped["content"].item(), clamped["style"].item()))
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    curve = []
    for k in range(iterations + 1):
        best = min((trial for trial in trials if trial[0] <= k), key=lambda trial: trial[1])
        curve.append((best[2], best[3], any(trial[0] >= k for trial in trials)))
    return curve


def main() -> None:
    iterations = int(sys.argv[1])
    torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
    encoder = StylizationPipeline.from_preset("vgg16-hed").encoder
    curves = {}
    for content_path, style_path in find_pairs(Path("../shared/data/val")):
        content, style = _load_at(content_path, 256), _load_at(style_path, 256)
        curves[content_path.stem] = curve_of_pair(
            AdainObjective.from_style_image(encoder, content, style), content, iterations
        )
        print(
            content_path.stem,
            "style after 0 / last iteration:",
            round(curves[content_path.stem][0][1], 1),
            round(curves[content_path.stem][-1][1], 1),
            file=sys.stderr,
            flush=True,
        )
    rows = []
    for k in range(iterations + 1):
        contents = [curve[k][0] for curve in curves.values()]
        styles = [curve[k][1] for curve in curves.values()]
        rows.append(
            {
                "iteration": k,
                "content": round(statistics.mean(contents), 1),
                "style": round(statistics.mean(styles), 1),
                "median_content": round(statistics.median(contents), 1),
                "median_style": round(statistics.median(styles), 1),
                "pairs_reaching_it": sum(curve[k][2] for curve in curves.values()),
            }
        )
    print(json.dumps({"pairs": len(curves), "size": 256, "mean_over_pairs": rows}, indent=1))
    if len(sys.argv) > 3:
        Path(sys.argv[3]).write_text(json.dumps(curves))


if __name__ == "__main__":
    main()
