"""Training windows, left padding and negative sampling, in numpy (cheap, seeded).

Token ids are item index + 1; 0 is padding.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np


def to_tokens(items: np.ndarray) -> np.ndarray:
    """Item indices to token ids (index + 1)."""
    return np.asarray(items, dtype=np.int64) + 1


def windows(
    sequences: Sequence[np.ndarray], max_length: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Cut token sequences into windows of at most ``max_length + 1`` tokens, from the end.

    Consecutive windows overlap by one token, so every position but a
    sequence's first is a training target exactly once (TrainData's promise),
    and the most recent window keeps the longest context. Returns the windows
    and, for each, the index of the sequence it came from.
    """
    out: list[np.ndarray] = []
    source: list[int] = []
    for number, tokens in enumerate(sequences):
        end = len(tokens)
        while end > 1:
            start = max(0, end - max_length - 1)
            out.append(tokens[start:end])
            source.append(number)
            end = start + 1
    return out, np.asarray(source, dtype=np.int64)


def pad_left(rows: Sequence[np.ndarray], length: int | None = None) -> np.ndarray:
    """Stack rows right-aligned into ``(len(rows), length)``, zeros in front."""
    length = max((len(r) for r in rows), default=0) if length is None else length
    out = np.zeros((len(rows), length), dtype=np.int64)
    for i, row in enumerate(rows):
        if len(row):
            out[i, length - len(row) :] = row[-length:]
    return out


@dataclass
class Batch:
    inputs: np.ndarray  # (B, T) tokens, left-padded
    targets: np.ndarray  # (B, T) next tokens, 0 where there is none
    negatives: np.ndarray | None  # (B, T) sampled tokens for the BCE loss


class NegativeSampler:
    """One uniform negative per position, never an item of the source sequence (Kang 2018).

    Membership is checked with sorted ``sequence * (n_items + 1) + token`` keys,
    so memory stays linear in the data, not in the catalog size.
    """

    def __init__(self, sequences: Sequence[np.ndarray], n_items: int):
        self.n_items = n_items
        self.base = n_items + 1
        keys = [np.unique(s) + i * self.base for i, s in enumerate(sequences)]
        self.keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)

    def sample(self, source: np.ndarray, shape: tuple[int, int], rng: np.random.Generator):
        rows = np.broadcast_to(source[:, None], shape)
        negatives = rng.integers(1, self.n_items + 1, size=shape)
        for _ in range(100):  # a user who saw almost every item keeps a rare repeat
            clash = self._seen(rows * self.base + negatives)
            if not clash.any():
                break
            negatives[clash] = rng.integers(1, self.n_items + 1, size=int(clash.sum()))
        return negatives

    def _seen(self, keys: np.ndarray) -> np.ndarray:
        where = np.searchsorted(self.keys, keys)
        where = np.minimum(where, len(self.keys) - 1)
        return self.keys[where] == keys if len(self.keys) else np.zeros(keys.shape, bool)


def batches(
    chunks: list[np.ndarray],
    source: np.ndarray,
    batch_size: int,
    rng: np.random.Generator,
    sampler: NegativeSampler | None = None,
) -> Iterator[Batch]:
    """One shuffled epoch of batches, each padded to its own longest window."""
    order = rng.permutation(len(chunks))
    for start in range(0, len(order), batch_size):
        picked = order[start : start + batch_size]
        rows = pad_left([chunks[i] for i in picked])
        inputs, targets = rows[:, :-1].copy(), rows[:, 1:].copy()
        targets[inputs == 0] = 0  # the first token of a window is an input only
        negatives = None
        if sampler is not None:
            negatives = sampler.sample(source[picked], targets.shape, rng)
            negatives[targets == 0] = 0
        yield Batch(inputs, targets, negatives)
