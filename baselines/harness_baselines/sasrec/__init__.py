"""SASRec, the ID-based sequential baseline, registered through the public plugin hook.

This module stays light (no torch): ``harness plugins`` imports it, and torch
is loaded only when a ``sasrec`` recommender is created.
"""

from __future__ import annotations

from harness import hookimpl
from harness_baselines.sasrec.config import SASRecOptions

__all__ = ["SASRecOptions", "create"]


def create(options: SASRecOptions | None = None):
    """Factory: a ``SASRecRecommender`` (imports torch on first use)."""
    from harness_baselines.sasrec.recommender import SASRecRecommender

    return SASRecRecommender(options)


@hookimpl
def register_recommenders(register):
    register(
        "sasrec",
        create,
        options=SASRecOptions,
        description="SASRec (Pre-LN self-attention over item ids; CE or BCE loss; "
        "early stopping on validation NDCG@10; also ranks the full catalog)",
    )
