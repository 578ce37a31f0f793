"""An example third-party plugin: an item-to-item co-occurrence recommender.

Installed with pip, it appears in ``harness plugins`` and runs with
``harness evaluate --recommender cooccurrence``; nothing in the harness changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from harness import Recommender, hookimpl


@dataclass(frozen=True)
class CooccurrenceOptions:
    window: int = field(default=5, metadata={"help": "items this close in a sequence co-occur"})
    recent: int = field(default=10, metadata={"help": "history items used when scoring"})

    def __post_init__(self):
        if self.window < 1 or self.recent < 1:
            raise ValueError("window and recent must be at least 1")


class CooccurrenceRecommender(Recommender):
    """Scores a candidate by how often it followed the user's recent items in training."""

    def __init__(self, options: CooccurrenceOptions):
        self.options = options

    def fit(self, data, context):
        rows, cols = [], []
        for seq in context.bar(data.train, desc="co-occurrence counts"):
            for offset in range(1, self.options.window + 1):
                rows.append(seq[:-offset])
                cols.append(seq[offset:])
        rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        cols = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        n = data.n_items
        counts = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)).tocsr()
        self.matrix = (counts + counts.T).tocsr()
        # Popularity breaks ties between candidates that never co-occurred.
        self.popularity = np.bincount(np.concatenate(data.train), minlength=n) / 1e6

    def score(self, requests, context):
        out = np.empty((len(requests), len(requests[0].candidates)))
        for row, request in enumerate(requests):
            recent = request.history[-self.options.recent :]
            weights = np.linspace(0.5, 1.0, num=len(recent)) if len(recent) else np.zeros(0)
            block = self.matrix[recent][:, request.candidates].toarray()
            out[row] = weights @ block + self.popularity[request.candidates]
        return out


@hookimpl
def register_recommenders(register):
    register(
        "cooccurrence",
        CooccurrenceRecommender,
        options=CooccurrenceOptions,
        description="item-to-item co-occurrence within a window (example plugin)",
    )
