"""The board's PNG plots (``--plot``): quality against prompt budget, training loss,
learning curve. Matplotlib is optional (``pip install llmrec-harness[plot]``) and
imported only here, when a plot is drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.boards.render import declared_capabilities, learning_curve_points
from harness.costs import PROMPT_TOKENS_PER_REQUEST
from harness.metrics import HEADLINE, sampled_runs


def _axes(width: float):
    """A figure and its axes, drawn without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, 4))


def _save(figure, axis, path: Path, xlabel: str, ylabel: str, title: str, legend_size=None) -> bool:
    """Label, grid and legend the axes, write the PNG and free the figure."""
    import matplotlib.pyplot as plt

    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=legend_size)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def _family(run: dict[str, Any]) -> str:
    """What a row recorded, less its budget: the rows of one budget sweep share a line."""
    return f"{run['recommender']} ({'fine-tuned' if run.get('training') else 'not trained'})"


def plot_budget(results: dict[str, Any], path: Path) -> bool:
    """NDCG@10 against prompt tokens per request, one line per recommender; False if no LLM rows."""
    runs = [r for r in sampled_runs(results) if r["costs"].get(PROMPT_TOKENS_PER_REQUEST)]
    if not runs:
        return False
    figure, axis = _axes(6)
    for family in sorted({_family(r) for r in runs}):
        points = sorted(
            (r["costs"][PROMPT_TOKENS_PER_REQUEST], r["metrics"][HEADLINE])
            for r in runs
            if _family(r) == family
        )
        axis.plot(*zip(*points), marker="o", label=family)
    return _save(
        figure,
        axis,
        path,
        "prompt tokens per request",
        "NDCG@10 (1 positive + sampled negatives)",
        f"{results['dataset']['name']}: quality against prompt budget",
        legend_size=None,
    )


def plot_losses(results: dict[str, Any], path: Path) -> bool:
    """Each trained row's per-step training loss against examples seen; False if none."""
    runs = [r for r in sampled_runs(results) if (r.get("training") or {}).get("log")]
    if not runs:
        return False
    figure, axis = _axes(7)
    for run in runs:
        entries = run["training"]["log"]
        axis.plot(
            [e["examples"] for e in entries],
            [e["loss"] for e in entries],
            label=run["name"],
            linewidth=1,
        )
    priors = {r["costs"].get("train_loss_prior") for r in runs} - {None}
    for prior in sorted(priors):
        axis.axhline(prior, color="grey", linestyle="--", linewidth=1)
    return _save(
        figure,
        axis,
        path,
        "training examples seen",
        "training loss per step",
        f"{results['dataset']['name']}: LoRA training loss (dashed: label prior)",
        legend_size=8,
    )


def plot_learning_curve(results: dict[str, Any], path: Path) -> bool:
    """NDCG@10 against training examples, one line per LLM family; False if no curve."""
    curves = learning_curve_points(results)
    if not curves:
        return False
    figure, axis = _axes(6)
    for family, points in curves.items():
        axis.plot(*zip(*points), marker="o", label=family)
    for run in sampled_runs(results):
        if declared_capabilities(run).get("reference"):
            axis.axhline(run["metrics"][HEADLINE], color="grey", linestyle="--", linewidth=1)
            axis.annotate(run["recommender"], (0, run["metrics"][HEADLINE]), fontsize=8)
    return _save(
        figure,
        axis,
        path,
        "distinct training examples (0: zero-shot)",
        "NDCG@10 (1 positive + sampled negatives)",
        f"{results['dataset']['name']}: learning curve",
        legend_size=8,
    )
