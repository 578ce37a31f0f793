"""What a board folder shows its readers, written before the folder is published.

The runner writes the data (results.json, split.json, scores/, records/) and
calls back here so ``leaderboard.md`` and the ``--plot`` PNGs land in the same
atomic rename: a board on disk always has its views.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from harness.boards.plots import plot_budget, plot_learning_curve, plot_losses
from harness.boards.render import render_leaderboard
from harness.orchestration.experiment import Experiment
from harness.orchestration.runner import evaluate

log = logging.getLogger(__name__)


def write_views(results: dict[str, Any], folder: Path, plot: bool = False) -> None:
    """``leaderboard.md``, and with ``plot`` the budget, loss and learning-curve PNGs."""
    (folder / "leaderboard.md").write_text(render_leaderboard(results))
    if not plot:
        return
    if not plot_budget(results, folder / "budget.png"):
        log.warning("--plot: no row reports prompt tokens, no budget.png written")
    plot_losses(results, folder / "loss.png")
    plot_learning_curve(results, folder / "learning-curve.png")


def evaluate_board(
    experiment: Experiment, out_dir: Path, plot: bool = False, **evaluate_kwargs: Any
) -> dict[str, Any]:
    """Run the experiment (:func:`harness.orchestration.runner.evaluate`) into a whole board."""
    views = functools.partial(write_views, plot=plot)
    return evaluate(experiment, out_dir, views=views, **evaluate_kwargs)
