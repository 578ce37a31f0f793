"""Render results JSON (the source of truth) as Markdown leaderboard tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tabulate import tabulate

from harness.metrics import CUTOFFS, FULL_CUTOFFS

QUALITY = [f"{m}@{k}" for m in ("recall", "mrr", "ndcg") for k in CUTOFFS] + ["auc"]
HEADERS = {"recall": "Recall", "mrr": "MRR", "ndcg": "NDCG", "auc": "AUC"}
SORT_METRIC = "ndcg@10"


def _header(key: str) -> str:
    name, _, k = key.partition("@")
    return f"{HEADERS[name]}@{k}" if k else HEADERS[name]


def _cost(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def render_leaderboard(results: dict[str, Any]) -> str:
    """The candidate-list table, the full-ranking table (if any row has one) and a legend."""
    runs = sorted(results["runs"], key=lambda r: -r["metrics"][SORT_METRIC])
    split, dataset = results["split"], results["dataset"]
    params = split["params"]
    paired = results.get("paired_tests", {}).get("rows", {})
    lines = [
        f"## {dataset['name']}: {split['test_requests']} test requests, "
        f"1 positive + {split['candidates_per_request'] - 1} sampled negatives",
        "",
        f"split `{split['sha256'][:12]}` · seed {params['seed']} · history ≤ {params['history']} "
        f"· ties ranked pessimistically · sorted by NDCG@10",
        "",
    ]
    rows = []
    for run in runs:
        m, costs = run["metrics"], run["costs"]
        low, high = run["ci95"][SORT_METRIC]
        p_value = paired.get(run["name"], {}).get("t_p")
        rows.append(
            [run["name"]]
            + [f"{m[key]:.4f}" for key in QUALITY]
            + [
                f"[{low:.3f}, {high:.3f}]",
                "–" if p_value is None else f"{p_value:.2g}",
                _cost(costs.get("prompt_tokens_per_request"), ".0f"),
                _cost(costs.get("fit_s"), ".1f"),
                _cost(costs.get("score_s_per_1k"), ".2f"),
                _cost(costs.get("peak_rss_mb"), ".0f"),
            ]
        )
    headers = (
        ["Recommender"]
        + [_header(k) for k in QUALITY]
        + ["NDCG@10 95% CI", "p vs best", "prompt tok/req", "train s", "score s/1k req", "peak MB"]
    )
    lines.append(tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True))
    full_runs = [r for r in runs if r.get("full_ranking")]
    if full_runs:
        keys = [f"{m}@{k}" for m in ("recall", "ndcg") for k in FULL_CUTOFFS]
        lines += [
            "",
            f"### Full-catalog ranking ({dataset['items']} items, the user's history excluded)",
            "",
            tabulate(
                [[r["name"]] + [f"{r['full_ranking'][k]:.4f}" for k in keys] for r in full_runs],
                headers=["Recommender"] + [_header(k) for k in keys],
                tablefmt="github",
                disable_numparse=True,
            ),
        ]
    return "\n".join(lines) + "\n"


def render_file(path: Path) -> str:
    """Render the leaderboard of a results.json file."""
    return render_leaderboard(json.loads(Path(path).read_text()))
