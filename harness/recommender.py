"""What a recommender receives and returns: the contract every plugin codes against."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm.auto import tqdm

from harness.data.model import Dataset
from harness.paths import cache_root

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One ranking case handed to a recommender: ``history`` and ``candidates`` (item
    indices, history oldest first), and no answer.

    ``offset`` is the position of ``history[0]`` in the user's whole sequence:
    a recommender that cuts a history into blocks at fixed positions of the
    sequence (LLM-TRSR) cuts every window of one user the same way, so its
    block summaries are shared.
    """

    sequence_id: str
    history: np.ndarray
    candidates: np.ndarray
    offset: int = 0


@dataclass(frozen=True)
class LabeledRequest(Request):
    """A request with its held-out item ``target``: what the split stores.

    Validation requests reach ``fit()`` labeled (they are for early stopping
    and checkpoint selection); test requests reach ``score()`` and
    ``score_catalog()`` as plain :class:`Request` objects (:meth:`unlabeled`),
    and the runner keeps their targets.
    """

    target: int = field(kw_only=True)

    @property
    def positive_index(self) -> int:
        """Where the target sits among the candidates."""
        return int(np.flatnonzero(self.candidates == self.target)[0])

    def unlabeled(self) -> Request:
        """The same request without its answer."""
        return Request(self.sequence_id, self.history, self.candidates, self.offset)


@dataclass
class TrainData:
    """Everything a recommender may learn from: training sequences and validation requests.

    Every position of a training sequence is a training target; validation
    requests are for early stopping and checkpoint selection only.
    """

    dataset: Dataset
    train_ids: list[str]
    train: list[np.ndarray]
    valid: list[LabeledRequest]
    history_length: int
    whole: list[np.ndarray] | None = field(default=None, repr=False)

    @property
    def n_items(self) -> int:
        return len(self.dataset.catalog)

    def sample_negatives(self, index: int, k: int, rng: np.random.Generator) -> list[int]:
        """``k`` distinct items drawn uniformly from outside training sequence ``index``'s
        whole sequence (held-out items included), as the split draws its negatives.

        A training "no" is then never the user's own validation or test target,
        and the recommender does not have to be told which items those are.
        """
        sequence = self.whole[index] if self.whole is not None else self.train[index]
        taken = set(sequence.tolist())
        if self.n_items - len(taken) < k:
            raise ValueError(f"sequence {self.train_ids[index]!r} leaves fewer than {k} negatives")
        chosen: list[int] = []
        while len(chosen) < k:
            item = int(rng.integers(self.n_items))
            if item not in taken:
                taken.add(item)
                chosen.append(item)
        return chosen


@dataclass
class RunContext:
    """Per-run settings shared by all recommenders: seed, device, where to cache and save.

    ``run_dir`` is the row's folder in the output; ``work_dir`` (None outside
    ``harness evaluate``) survives a kill of the process, so a long fit or
    scoring pass can save its progress there and resume from it on the rerun.
    """

    seed: int = 0
    device: str = "auto"
    cache_dir: Path = field(default_factory=cache_root)
    run_dir: Path | None = None
    work_dir: Path | None = None
    progress: bool = True
    costs: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] | None = None

    def bar(
        self, iterable: Iterable[T], desc: str, total: int | None = None, **kw: Any
    ) -> Iterator[T]:
        """A tqdm progress bar, silent when progress is off or stderr is not a terminal."""
        return tqdm(iterable, desc=desc, total=total, disable=None if self.progress else True, **kw)

    def record_cost(self, name: str, value: float) -> None:
        """Report a cost figure (e.g. ``prompt_tokens_per_request``) for the leaderboard."""
        self.costs[name] = float(value)

    def record_training(self, training: dict[str, Any]) -> None:
        """Report a trained row's training log (per-step loss, lr, examples) for results.json."""
        self.training = training


class Recommender(ABC):
    """Base class for recommenders; a plugin may also duck-type these methods.

    ``reproducible_within`` is the largest change of a metric a rerun of the
    row may show on the same kind of machine (``harness leaderboard
    regenerate --check`` allows it): 0 for a row that is deterministic.
    """

    reproducible_within: float = 0.0

    def fit(self, data: TrainData, context: RunContext) -> None:  # noqa: B027 - optional hook
        """Learn from ``data``; recommenders without training leave this as is."""

    @abstractmethod
    def score(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        """Scores of shape ``(len(requests), n_candidates)``; higher ranks first."""

    def score_catalog(self, requests: Sequence[Request], context: RunContext) -> np.ndarray | None:
        """Scores over the whole catalog ``(len(requests), n_items)``, or ``None`` if unsupported."""
        return None
