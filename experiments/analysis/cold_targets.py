"""Two rows of a board compared on the requests whose target is rare in training.

A text-aware row (``sasrec[item_text=llm]``) should help most where the ID
embedding learned least: targets with at most ``--max-count`` training
interactions. This reads the board's split and scores (no recomputation),
counts each item's occurrences in the training sequences the rows learned
from, and prints both rows' NDCG@10 on all requests and on that subset, with
the paired t-test and Wilcoxon signed-rank test (uncorrected: one pair, two
subsets; say so when reading it).

Run: python experiments/analysis/cold_targets.py leaderboards/ml-100k sasrec \
    "sasrec[item_text=llm]" --max-count 5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from harness.data.embedded_dataset import MovieLensOptions, load_ml_100k
from harness.metrics import candidate_metrics, paired_test
from harness.orchestration.row_scores import read_row_scores
from harness.splits import read_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("board", type=Path)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--max-count", type=int, default=5)
    args = parser.parse_args()
    results = json.loads((args.board / "results.json").read_text())
    if results["dataset"]["name"] != "ml-100k":
        raise SystemExit(f"{args.board}: this script reads ml-100k boards only")
    split = read_split(args.board / "split.json", load_ml_100k(MovieLensOptions()))
    counts = np.bincount(
        np.concatenate(split.train_data().train), minlength=len(split.dataset.catalog)
    )
    positives = np.array([r.positive_index for r in split.test])
    rare = np.array([counts[r.target] <= args.max_count for r in split.test])
    runs = {r["name"]: r for r in results["runs"]}
    ndcg = {}
    for name in (args.a, args.b):
        if name not in runs:
            raise SystemExit(f"{args.board}: no row named {name!r}; rows: {', '.join(runs)}")
        scores = read_row_scores(args.board / runs[name]["scores_file"])["scores"]
        ndcg[name] = candidate_metrics(scores, positives)["ndcg@10"]
    for label, subset in (
        ("all requests", np.ones_like(rare)),
        (f"target count <= {args.max_count}", rare),
    ):
        a, b = ndcg[args.a][subset], ndcg[args.b][subset]
        test = paired_test(a, b) if subset.sum() > 1 else None
        line = f"{label} ({int(subset.sum())}): {args.a} {a.mean():.4f}, {args.b} {b.mean():.4f}"
        if test:
            line += f", A - B {test['mean_diff']:+.4f} (t p {test['t_p']:.2g}, W p {test['wilcoxon_p']:.2g})"
        print(line)


if __name__ == "__main__":
    main()
