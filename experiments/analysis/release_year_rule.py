"""A trivial text rule read beside a board's rows: context, not a leaderboard row.

The rule scores a candidate by how close its release year is to that of the
last history item (closer is better), ties broken by how many of its genres
occur in the history's items. It uses the same item texts the LLM prompts
show. It was chosen after an audit looked at the test requests of
`leaderboards/ml-100k-llm/`, so its figure is optimistic; the script also
reports how a row's scores follow release year within a request.

Run: python experiments/analysis/release_year_rule.py leaderboards/ml-100k-llm
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

from harness.data.embedded_dataset import MovieLensOptions, load_ml_100k
from harness.metrics import candidate_metrics, paired_test
from harness.orchestration.row_scores import read_row_scores


def _field(text: str, name: str) -> str:
    match = re.search(rf"{name}: ([^;]*)", text)
    return match.group(1).strip() if match else ""


def _year(text: str) -> float:
    value = _field(text, "release_year")
    return float(value) if value.isdigit() else np.nan  # the data has "unkonwn" years


def main(board: Path) -> None:
    catalog = load_ml_100k(MovieLensOptions()).catalog
    ids = {item_id: i for i, item_id in enumerate(catalog.ids)}
    year = np.array([_year(catalog.text(i)) for i in range(len(catalog))])
    genres = [set(_field(catalog.text(i), "class").split()) for i in range(len(catalog))]
    split = json.loads((board / "split.json").read_text())
    results = json.loads((board / "results.json").read_text())
    rule, positive, years = [], [], []
    for request in split["test"]:
        history = [ids[i] for i in request["history"]]
        candidates = [ids[i] for i in request["candidates"]]
        seen = set().union(*(genres[i] for i in history)) if history else set()
        last = year[history[-1]] if history else np.nanmedian(year)
        distance = np.nan_to_num(np.abs(year[candidates] - last), nan=100.0)
        overlap = np.array([len(genres[c] & seen) for c in candidates])
        rule.append(-distance + overlap / 100.0)
        positive.append(candidates.index(ids[request["target"]]))
        years.append(year[candidates])
    positive = np.array(positive)
    recent = np.array(years) >= 1997
    targets = recent[np.arange(len(positive)), positive]
    print(
        f"1997-98 releases: {targets.mean():.1%} of test targets, "
        f"{(recent.sum() - targets.sum()) / (recent.size - len(positive)):.1%} of negatives"
    )
    ndcg_rule = candidate_metrics(np.array(rule), positive)["ndcg@10"]
    print(
        f"{board.name}: release-year rule NDCG@10 {ndcg_rule.mean():.4f} ({len(positive)} requests)"
    )
    for run in results["runs"]:
        scores = read_row_scores(board / run["scores_file"])["scores"]
        ndcg = candidate_metrics(scores, positive)["ndcg@10"]
        test = paired_test(ndcg, ndcg_rule)
        within = np.nanmean(
            [
                np.corrcoef(s, y)[0, 1]
                for s, y in zip(scores, years)
                if np.ptp(s) > 0 and np.ptp(y) > 0
            ]
        )
        print(
            f"  {run['name']:<45} NDCG@10 {ndcg.mean():.4f}  vs rule {test['mean_diff']:+.4f} "
            f"(t p {test['t_p']:.2g}, W p {test['wilcoxon_p']:.2g}; uncorrected)  "
            f"score~year corr within request {within:+.2f}"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "leaderboards/ml-100k-llm"))
