"""Scoring with a trained SASRec: candidate lists, the full catalog, and cold items.

Cold items (never in a training sequence) have no learned meaning, so they get
one documented score, :meth:`Scorer.cold_score`: a constant strictly below
every trained item's score for any history. It is derived from Cauchy-Schwarz:
the final LayerNorm bounds the hidden state's norm by
``max|gamma| * sqrt(d) + ||beta||``, so ``-(that bound) * max ||e_item|| - 1``
lies below every trained item's logit. Cold items in a history are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from harness import Request
from harness_baselines.sasrec.batches import pad_left, to_tokens
from harness_baselines.sasrec.model import SASRec


@dataclass
class Scorer:
    """A trained model, which items it knows, and where to run it."""

    model: SASRec
    known: np.ndarray  # (n_items,) bool: the item occurs in a training sequence
    device: torch.device
    batch_size: int = 512

    @torch.no_grad()
    def cold_score(self) -> float:
        """The score of every cold item: below any trained item's score, for any history."""
        norm = self.model.final_norm
        hidden = norm.weight.shape[0]
        bound = float(norm.weight.abs().max()) * math.sqrt(hidden) + float(norm.bias.norm())
        weights = self.model.item_weights()[torch.as_tensor(self.known, device=self.device)]
        largest = float(weights.norm(dim=1).max()) if len(weights) else 0.0
        return -(bound * largest) - 1.0

    def tokens(self, history: np.ndarray) -> np.ndarray:
        """The model input of one history: known items only, the last ``max_length``."""
        history = np.asarray(history, dtype=np.int64)
        kept = history[self.known[history]] if len(history) else history
        return to_tokens(kept[-self.model.max_length :])

    @torch.inference_mode()
    def encode(self, histories: Sequence[np.ndarray]) -> torch.Tensor:
        """The last hidden state of each history, ``(n, hidden)`` (zeros for an empty one)."""
        was_training = self.model.training
        self.model.eval()
        try:
            out = []
            for start in range(0, len(histories), self.batch_size):
                chunk = [self.tokens(h) for h in histories[start : start + self.batch_size]]
                rows = pad_left(chunk, max(1, max(len(c) for c in chunk)))
                states = self.model(torch.as_tensor(rows, device=self.device))
                out.append(states[:, -1])
            hidden = self.model.item_emb.embedding_dim
            return torch.cat(out) if out else torch.zeros(0, hidden, device=self.device)
        finally:
            self.model.train(was_training)

    @torch.inference_mode()
    def candidates(self, requests: Sequence[Request]) -> np.ndarray:
        """``(n, n_candidates)`` scores of each request's candidate list."""
        states = self.encode([r.history for r in requests])
        items = np.stack([r.candidates for r in requests]).astype(np.int64)
        weights = self.model.item_weights()[torch.as_tensor(items, device=self.device)]
        scores = torch.einsum("nd,ncd->nc", states, weights).double().cpu().numpy()
        scores[~self.known[items]] = self.cold_score()
        return scores

    @torch.inference_mode()
    def catalog(self, requests: Sequence[Request]) -> np.ndarray:
        """``(n, n_items)`` scores of every catalog item for each request."""
        cold = ~self.known
        score = self.cold_score()
        weights = self.model.item_weights()
        out = np.empty((len(requests), self.model.n_items), dtype=np.float32)
        for start in range(0, len(requests), self.batch_size):
            part = requests[start : start + self.batch_size]
            states = self.encode([r.history for r in part])
            block = (states @ weights.T).float().cpu().numpy()
            block[:, cold] = score
            out[start : start + len(part)] = block
        return out
