"""What a recommender receives and returns: the contract every plugin codes against."""

from __future__ import annotations

import contextlib
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm.auto import tqdm

from harness.dataset import Dataset
from harness.paths import cache_root

T = TypeVar("T")
PHASE_PREFIX = "phase_"  # a row's seconds per phase are its costs phase_<name>_s


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

    def add_phase(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to the row's time in phase ``name`` (``phase_<name>_s`` in its
        costs): where an LLM row's time goes (summaries, tokenize, forward, train, ...)."""
        key = f"{PHASE_PREFIX}{name}_s"
        self.costs[key] = self.costs.get(key, 0.0) + float(seconds)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as part of phase ``name`` (see :meth:`add_phase`)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add_phase(name, time.perf_counter() - started)

    def record_training(self, training: dict[str, Any]) -> None:
        """Report a trained row's training log (per-step loss, lr, examples) for results.json."""
        self.training = training


@dataclass(frozen=True)
class Capabilities:
    """What kind of row a recommender is, as the boards and the CLI need to know it.

    They read this, never a plugin's option names. ``trained`` is set by rows
    that can run with or without training (LLM rows): False for their
    zero-shot form, which is a learning curve's 0 point, and None for
    everything else. ``variant`` tells rows of one recommender apart as
    families of a learning curve (LLM-TRSR: its summarizer). ``reference``
    marks a cheap reference drawn as a line on plots (random, popularity).
    ``precompute``: :meth:`precompute` builds the row's expensive inputs ahead
    (``harness summarize``). ``prompts``: the row scores yes/no prompts it can
    export (``harness export lm-eval``: ``requests_for`` and ``yes``/``no``).
    """

    trained: bool | None = None
    variant: str | None = None
    reference: bool = False
    precompute: bool = False
    prompts: bool = False


class Recommender(ABC):
    """Base class for recommenders; a plugin may also duck-type these methods.

    The contract the runner relies on, written once:

    - ``fit(data, context)`` then ``score(requests, context)``; the runner
      keeps the test targets, ``score`` never sees them.
    - **Per-request independence.** ``score`` gives each request the same
      scores whatever other requests share its call (up to float rounding):
      under data parallel each process scores its own shard of the requests,
      and a resumed row reads back finished batches and scores the rest.
    - **``fit`` runs on every rank** of a data-parallel run (each process
      needs the trained model to score its shard); rank 0 alone writes.
    - ``context.work_dir`` (None outside ``harness evaluate``) survives a
      kill: save progress there to resume a long fit or scoring pass.
    - ``context.record_cost(name, value)`` reports costs; the boards read
      :data:`harness.costs.PROMPT_TOKENS_PER_REQUEST` and
      :data:`harness.costs.PROMPT_BUDGET_TOKENS` (and the summarizer keys in
      :mod:`harness.summarizer`) into columns and tables.
    - ``row_name`` (optional attribute): the leaderboard row's name when the
      experiment gives none (the runner falls back to ``NAME[options]``).
    - ``capabilities()``: what kind of row this is, recorded in results.json;
      the boards and the CLI read it instead of option names.
    - ``reproducible_within``: the largest change of a metric a rerun of the
      row may show (``harness leaderboard regenerate --check`` allows it): 0
      for a row that is deterministic.
    """

    reproducible_within: float = 0.0
    row_name: str | None = None

    def capabilities(self) -> Capabilities:
        """What kind of row this is (see :class:`Capabilities`); the default declares none."""
        return Capabilities()

    def fit(self, data: TrainData, context: RunContext) -> None:  # noqa: B027 - optional hook
        """Learn from ``data``; recommenders without training leave this as is."""

    @abstractmethod
    def score(self, requests: Sequence[Request], context: RunContext) -> np.ndarray:
        """Scores of shape ``(len(requests), n_candidates)``; higher ranks first."""

    def score_catalog(self, requests: Sequence[Request], context: RunContext) -> np.ndarray | None:
        """Scores over the whole catalog ``(len(requests), n_items)``, or ``None`` if unsupported."""
        return None
