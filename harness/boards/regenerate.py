"""Rerun a board's recorded experiment; with ``check``, compare instead of rewriting.

The experiment comes from the board's ``results.json`` (resolved, with every
row's options), rows are recomputed (row checkpoints are not read), and each
metric may move by at most what its row declared (``reproducible_within``: 0
for deterministic rows). Costs are shown beside each other, never compared.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness.errors import HarnessError
from harness.orchestration.experiment import experiment_from_dict

COSTS_SHOWN = ("fit_s", "score_s", "peak_rss_mb")


@dataclass
class Comparison:
    """The side-by-side table and every drift beyond its row's tolerance."""

    table: str
    drifts: list[str]


def _metrics(run: dict[str, Any]) -> dict[str, float]:
    out = dict(run["metrics"])
    out.update({f"full {k}": v for k, v in (run.get("full_ranking") or {}).items()})
    return out


def compare(committed: dict[str, Any], regenerated: dict[str, Any]) -> Comparison:
    """Row by row, metric by metric: committed against regenerated."""
    new_runs = {r["name"]: r for r in regenerated["runs"]}
    rows, drifts = [], []
    if committed["split"]["sha256"] != regenerated["split"]["sha256"]:
        drifts.append(
            f"split: committed {committed['split']['sha256'][:12]}, "
            f"regenerated {regenerated['split']['sha256'][:12]}"
        )
    for run in committed["runs"]:
        name, tolerance = run["name"], float(run.get("reproducible_within", 0.0))
        new = new_runs.get(name)
        if new is None:
            drifts.append(f"{name}: no such row in the regenerated board")
            continue
        new_metrics = _metrics(new)
        for metric, value in _metrics(run).items():
            again = new_metrics.get(metric)
            ok = again is not None and abs(again - value) <= tolerance
            rows.append(
                [
                    name,
                    metric,
                    f"{value:.6f}",
                    "–" if again is None else f"{again:.6f}",
                    f"≤ {tolerance:g}",
                    "ok" if ok else "DRIFT",
                ]
            )
            if not ok:
                drifts.append(
                    f"{name}: {metric} committed {value!r}, regenerated {again!r} "
                    f"(allowed difference {tolerance:g})"
                )
        for cost in COSTS_SHOWN:
            if cost in run["costs"]:
                again = new["costs"].get(cost)
                rows.append(
                    [
                        name,
                        f"cost {cost}",
                        f"{run['costs'][cost]:.2f}",
                        "–" if again is None else f"{again:.2f}",
                        "not compared",
                        "",
                    ]
                )
    table = tabulate(
        rows,
        headers=["row", "metric", "committed", "regenerated", "tolerance", ""],
        tablefmt="github",
        disable_numparse=True,
    )
    return Comparison(table, drifts)


def regenerate(
    folder: Path, check: bool, cache_dir: Path | None = None, progress: bool = True
) -> Comparison | None:
    """Rerun the board in ``folder``: rewrite it, or (``check``) compare a rerun with it."""
    from harness.boards.views import evaluate_board

    folder = Path(folder)
    try:
        committed = json.loads((folder / "results.json").read_text())
        recorded = committed["experiment"]
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{folder / 'results.json'}: cannot read: {exc}") from None
    except KeyError:
        raise HarnessError(
            f"{folder / 'results.json'}: records no experiment (made before boards recorded "
            "one); rerun its `harness evaluate` command once"
        ) from None
    experiment = experiment_from_dict(recorded)
    with tempfile.TemporaryDirectory(prefix=".regenerate-", dir=folder.parent) as scratch:
        source = folder / "experiment.toml"
        experiment_file = None
        if source.is_file():
            experiment_file = Path(scratch) / "experiment.toml"
            shutil.copyfile(source, experiment_file)
        out = Path(scratch) / "board" if check else folder
        regenerated = evaluate_board(
            experiment,
            out,
            cache_dir=cache_dir,
            progress=progress,
            fresh=True,
            plot=any(folder.glob("*.png")),
            experiment_file=experiment_file,
        )
    return compare(committed, regenerated) if check else None
