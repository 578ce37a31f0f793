"""Sanity recommenders: they prove the pipeline and keep the metrics honest.

``random`` has an expected Recall@K of K/(negatives+1); ``popularity`` ranks by
training-interaction counts and must beat it.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from harness import Capabilities, Recommender, Request, RunContext, TrainData, hookimpl


class RandomRecommender(Recommender):
    """Uniform random scores, seeded per request so results do not depend on batch order."""

    def capabilities(self) -> Capabilities:
        return Capabilities(reference=True)

    def score(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        rows = []
        for request in requests:
            key = zlib.crc32(request.sequence_id.encode())
            rng = np.random.default_rng([context.seed, key])
            rows.append(rng.random(len(request.candidates)))
        return np.array(rows)


class PopularityRecommender(Recommender):
    """Scores an item by how often it occurs in the training sequences."""

    counts: np.ndarray

    def capabilities(self) -> Capabilities:
        return Capabilities(reference=True)

    def fit(self, data: TrainData, context: RunContext) -> None:
        items = np.concatenate(data.train) if data.train else np.zeros(0, dtype=np.int32)
        self.counts = np.bincount(items, minlength=data.n_items).astype(np.float64)

    def score(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        return np.array([self.counts[r.candidates] for r in requests])

    def score_catalog(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        return np.broadcast_to(self.counts, (len(requests), len(self.counts)))


@hookimpl
def register_recommenders(register):
    register(
        "random",
        lambda options: RandomRecommender(),
        description="uniform random scores (seeded): the metric floor, Recall@K = K/21",
    )
    register(
        "popularity",
        lambda options: PopularityRecommender(),
        description="training-interaction counts",
    )
