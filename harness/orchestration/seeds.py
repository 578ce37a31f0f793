"""One experiment over several seeds: a board per seed, and each row's spread across them.

The seed moves the split (which users, which negatives) and the recommenders'
own randomness, so the spread across seeds is what a reader needs to judge
whether a difference between rows would survive another draw. Each seed's
board is a complete board (``seed-S/``); ``seeds.json`` and ``seeds.md``
give every row's per-seed values and their mean and standard deviation.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from harness.atomic import write_bytes_atomic
from harness.errors import HarnessError
from harness.orchestration.experiment import Experiment

METRICS = ("ndcg@10", "recall@10", "mrr@10", "auc")


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]``; distinct integers, at least two."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise HarnessError(
            f"--seeds {text!r}: give integers separated by commas, e.g. 0,1,2"
        ) from None
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        raise HarnessError(f"--seeds {text!r}: give at least two distinct seeds")
    return seeds


def summarize_seeds(boards: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Per row and metric: the value under each seed, their mean and sample std."""
    names = [r["name"] for r in next(iter(boards.values()))["runs"]]
    rows = {}
    for name in names:
        per_seed = {}
        for seed, results in boards.items():
            run = next((r for r in results["runs"] if r["name"] == name), None)
            if run is not None:
                per_seed[seed] = run["metrics"]
        rows[name] = {
            metric: {
                "per_seed": {str(s): m[metric] for s, m in per_seed.items()},
                "mean": float(np.mean([m[metric] for m in per_seed.values()])),
                "std": float(np.std([m[metric] for m in per_seed.values()], ddof=1))
                if len(per_seed) > 1
                else 0.0,
            }
            for metric in METRICS
        }
    failed = sorted({f["name"] for b in boards.values() for f in b.get("failed_runs") or []})
    return {"seeds": list(boards), "rows": rows, "failed_rows": failed}


def render_seeds(summary: dict[str, Any], dataset: str) -> str:
    """The rows by mean NDCG@10, with mean ± std and each seed's value."""
    seeds = summary["seeds"]
    order = sorted(summary["rows"], key=lambda n: -summary["rows"][n]["ndcg@10"]["mean"])
    table = []
    for name in order:
        ndcg = summary["rows"][name]["ndcg@10"]
        auc = summary["rows"][name]["auc"]
        table.append(
            [name, f"{ndcg['mean']:.4f} ± {ndcg['std']:.4f}"]
            + [f"{ndcg['per_seed'].get(str(s), float('nan')):.4f}" for s in seeds]
            + [f"{auc['mean']:.4f} ± {auc['std']:.4f}"]
        )
    headers = ["Recommender", "NDCG@10 mean ± std"] + [f"seed {s}" for s in seeds]
    headers.append("AUC mean ± std")
    return (
        f"## {dataset}: {len(seeds)} seeds ({', '.join(map(str, seeds))})\n\n"
        "Each seed draws its own split (users, negatives) and seeds the recommenders; "
        "std is the sample standard deviation over seeds. Each seed's full board, with "
        "its paired tests, is in `seed-S/`.\n\n"
        + tabulate(table, headers=headers, tablefmt="github", disable_numparse=True)
        + "\n"
    )


def seeded(experiment: Experiment, seed: int) -> Experiment:
    """The experiment with its split (and so its recommenders) under ``seed``."""
    return dataclasses.replace(experiment, split=dataclasses.replace(experiment.split, seed=seed))


def evaluate_seeds(
    experiment: Experiment, out_dir: Path, seeds: list[int], **evaluate_kwargs: Any
) -> dict[str, Any]:
    """Run the experiment once per seed into ``out_dir/seed-S`` and summarize across seeds."""
    from harness.orchestration.runner import evaluate

    out_dir = Path(out_dir)
    boards = {}
    for seed in seeds:
        boards[seed] = evaluate(
            seeded(experiment, seed), out_dir / f"seed-{seed}", **evaluate_kwargs
        )
    summary = summarize_seeds(boards)
    write_bytes_atomic(out_dir / "seeds.json", (json.dumps(summary, indent=2) + "\n").encode())
    write_bytes_atomic(out_dir / "seeds.md", render_seeds(summary, experiment.dataset).encode())
    return summary
