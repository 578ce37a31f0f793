"""lm-evaluation-harness hooks for a task exported by :mod:`harness.export.lm_eval`.

This file is copied verbatim as ``utils.py`` into the exported task folder,
so it must import nothing from the harness. Each doc is one (request,
candidate) prompt scored as a two-way multiple choice ("no", "yes");
P(yes) = softmax over the two choices' log-likelihoods, which equals the
softmax over the two answer-token logits the harness uses (the shared
normalizer cancels). The aggregations regroup the docs by request and rank
its candidates by P(yes), ties broken pessimistically: the positive ranks
below every candidate with an equal score.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

CUTOFFS = (3, 5, 10)
METRICS = tuple(f"{name}@{k}" for name in ("recall", "mrr", "ndcg") for k in CUTOFFS)


def load_docs(data_file: str, **_metadata) -> dict:
    """The task's docs, read from the JSON-lines file beside this module."""
    import datasets

    lines = (Path(__file__).parent / data_file).read_text(encoding="utf-8").splitlines()
    return {"test": datasets.Dataset.from_list([json.loads(line) for line in lines if line])}


def p_yes(loglikelihood_yes: float, loglikelihood_no: float) -> float:
    """Two-way softmax, written to never overflow."""
    diff = loglikelihood_yes - loglikelihood_no
    if diff >= 0:
        return 1.0 / (1.0 + math.exp(-diff))
    e = math.exp(diff)
    return e / (1.0 + e)


def process_results(doc: dict, results: list) -> dict:
    """Per doc: (request id, P(yes), is positive) for every metric, aggregated per request later."""
    (ll_no, _), (ll_yes, _) = results
    item = (doc["request_id"], p_yes(ll_yes, ll_no), bool(doc["label"]))
    return dict.fromkeys(METRICS, item)


def positive_rank(scored: list[tuple[float, bool]]) -> int:
    """0-based rank of the positive candidate; every candidate scored >= it ranks above it."""
    positive = next(score for score, is_positive in scored if is_positive)
    return sum(score >= positive for score, _ in scored) - 1


def metric_value(name: str, k: int, rank: int) -> float:
    if rank >= k:
        return 0.0
    if name == "recall":
        return 1.0
    if name == "mrr":
        return 1.0 / (rank + 1)
    return 1.0 / math.log2(rank + 2)


def _aggregation(name: str, k: int):
    def aggregate(items: list) -> float:
        by_request: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        for request_id, score, is_positive in items:
            by_request[request_id].append((score, is_positive))
        values = [metric_value(name, k, positive_rank(scored)) for scored in by_request.values()]
        return sum(values) / len(values) if values else float("nan")

    aggregate.__name__ = f"{name}_at_{k}"
    return aggregate


recall_at_3 = _aggregation("recall", 3)
recall_at_5 = _aggregation("recall", 5)
recall_at_10 = _aggregation("recall", 10)
mrr_at_3 = _aggregation("mrr", 3)
mrr_at_5 = _aggregation("mrr", 5)
mrr_at_10 = _aggregation("mrr", 10)
ndcg_at_3 = _aggregation("ndcg", 3)
ndcg_at_5 = _aggregation("ndcg", 5)
ndcg_at_10 = _aggregation("ndcg", 10)
