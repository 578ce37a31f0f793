"""How much of leave-one-out's training lies in each user's future, and what it is worth.

Leave-one-out holds out each user's last items, but other users' interactions
are not cut in time: popularity and SASRec train on interactions that happen,
in calendar time, after a user's test target. This script measures, on the
embedded ml-100k and its default leave-one-out split (seed 0, all users):

- the share of all training interactions dated after each user's test target
  (averaged over users);
- popularity as the board runs it (counts over every training interaction)
  against a popularity counted, for each test request, only from training
  interactions dated strictly before that request's target, on NDCG@10 over
  the same requests (paired t-test and Wilcoxon signed-rank).

Run: python experiments/analysis/temporal_leakage.py (about 10 s).
"""

from __future__ import annotations

import numpy as np

from harness.data.embedded_dataset import MovieLensOptions, load_ml_100k
from harness.metrics import candidate_metrics, paired_test
from harness.splits import SplitConfig, build_split


def main() -> None:
    data = load_ml_100k(MovieLensOptions())
    split = build_split(data, SplitConfig(seed=0))
    times = dict(zip(data.sequence_ids, data.timestamps))
    train_items = np.concatenate(split.train)
    train_times = np.concatenate(
        [times[sid][: len(seq)] for sid, seq in zip(split.train_ids, split.train)]
    )
    order = np.argsort(train_times, kind="stable")
    train_items, train_times = train_items[order], train_times[order]
    overall = np.bincount(train_items, minlength=len(data.catalog)).astype(np.float64)

    after, board, before = [], [], []
    for request in split.test:
        when = times[request.sequence_id][request.offset + len(request.history)]
        cut = int(np.searchsorted(train_times, when, side="left"))
        after.append(1 - cut / len(train_times))
        past = np.bincount(train_items[:cut], minlength=len(data.catalog)).astype(np.float64)
        board.append(overall[request.candidates])
        before.append(past[request.candidates])
    positive = np.array([list(r.candidates).index(r.target) for r in split.test])
    ndcg_board = candidate_metrics(np.array(board), positive)["ndcg@10"]
    ndcg_before = candidate_metrics(np.array(before), positive)["ndcg@10"]
    test = paired_test(ndcg_board, ndcg_before)
    print(f"test requests: {len(split.test)}; training interactions: {len(train_items)}")
    print(
        f"training interactions dated after the user's test target: {np.mean(after):.1%} (mean over users)"
    )
    print(f"popularity NDCG@10, all training (the board): {ndcg_board.mean():.4f}")
    print(f"popularity NDCG@10, only training before each target: {ndcg_before.mean():.4f}")
    print(
        f"difference {test['mean_diff']:+.4f}: paired t p {test['t_p']:.2g}, Wilcoxon p {test['wilcoxon_p']:.2g}"
    )


if __name__ == "__main__":
    main()
