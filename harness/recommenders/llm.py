"""What every LLM recommender shares: :class:`LLMRecommender` (options, training
examples, LoRA SFT, checkpoint selection, summaries); the pointwise yes/no head
is :class:`harness.recommenders.yes_no.PromptedYesNoRecommender`.

LLM-TRSR and the truncated-prompt baseline differ only in the sections of the
prompt before the candidate (:meth:`PromptedYesNoRecommender.sections`); the
training examples, fine-tuning, checkpoint selection and scoring are shared,
so the comparison between them is about the prompt and nothing else. The
listwise baseline takes the same user sections (:func:`summary_sections`)
and training targets under another head.

A third party adds an LLM recommender the same way: subclass one of these
with options that subclass :class:`LLMOptions` (or :class:`SummaryOptions`),
and implement ``sections()``. The runtime it drives (loading, scoring,
generation, SFT, embeddings) lives in :mod:`harness.llm`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import numpy as np

from harness import data_parallel
from harness.dataset import Dataset
from harness.llm.sft_settings import SFTSettings
from harness.metrics import HEADLINE, SELECTION, candidate_metrics
from harness.options import NESTED, THROUGHPUT
from harness.paths import runs_dir
from harness.recommender import Capabilities, Recommender, Request, RunContext, TrainData
from harness.summarizer import ChosenSummarizer

log = logging.getLogger(__name__)

# Training example defaults, chosen on validation requests (benchmarks/RESULTS-llm-trsr.md)
EXAMPLES_PER_USER = 2
NEGATIVES = 3
# the options that are LoRA SFT settings: their defaults and checks are SFTSettings' alone
SFT_OPTIONS = (
    "epochs",
    "lr",
    "schedule",
    "warmup",
    "loss",
    "packing",
    "batch_size",
    "grad_accum",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "gradient_checkpointing",
    "loss_on",
)


class Window(Protocol):
    """What a prompt is built from: a request or a training example."""

    history: np.ndarray  # item indices, oldest first
    offset: int  # where ``history`` starts in the user's whole sequence
    candidates: Sequence[int]


T = TypeVar("T")


def contiguous_share(items: Sequence[T], rank: int, size: int) -> list[T]:
    """Process ``rank``'s share of ``size``: one contiguous run, the runs as even as can be."""
    start, stop = len(items) * rank // size, len(items) * (rank + 1) // size
    return list(items[start:stop])


@dataclass(frozen=True)
class TrainingExample:
    """One training target: its history window (and where it starts in the sequence),
    the target first among its candidates, and a label per candidate."""

    history: np.ndarray
    offset: int
    candidates: tuple[int, ...]
    labels: tuple[bool, ...]


@dataclass(frozen=True)
class LLMOptions:
    """Options shared by every LLM recommender; the SFT ones (:data:`SFT_OPTIONS`) take their
    defaults and checks from :class:`~harness.llm.SFTSettings`."""

    model: str | None = field(
        default=None, metadata={"help": "HF model id or folder (default: the embedded SmolLM2)"}
    )
    zero_shot: bool = field(default=False, metadata={"help": "no fine-tuning: score as is"})
    recent_items: int = field(default=5, metadata={"help": "last R history items in the prompt"})
    epochs: int = field(default=SFTSettings.epochs, metadata={"help": "LoRA SFT epochs"})
    lr: float = field(default=SFTSettings.lr, metadata={"help": "peak learning rate"})
    schedule: Literal["cosine", "linear", "constant"] = field(
        default=SFTSettings.schedule,
        metadata={"help": "lr decay after warmup: cosine, linear, constant"},
    )
    warmup: float = field(
        default=SFTSettings.warmup, metadata={"help": "warmup, as a fraction of all steps"}
    )
    examples_per_user: int = field(
        default=EXAMPLES_PER_USER,
        metadata={"help": "training targets per user, newest first, each with its own history"},
    )
    negatives: int = field(
        default=NEGATIVES,
        metadata={"help": "sampled negatives per training target (outside the whole sequence)"},
    )
    loss: Literal["pointwise", "listwise"] = field(
        default=SFTSettings.loss,
        metadata={
            "help": "pointwise yes/no cross entropy (the paper's), or listwise: softmax over "
            "the candidates of one prompt"
        },
    )
    packing: bool = field(
        default=SFTSettings.packing,
        metadata={"help": "one prompt prefix + all its candidate tails per training row"},
    )
    batch_size: int = field(
        default=SFTSettings.batch_size,
        metadata={
            "help": "training rows (prompt prefixes) per optimizer step, shared out among the "
            f"processes of a data-parallel run ({SFTSettings.batch_size}: the best of the "
            "validation sweep on CPU, benchmarks/RESULTS-llm-trsr.md)"
        },
    )
    grad_accum: int = field(
        default=SFTSettings.grad_accum, metadata={"help": "gradient accumulation steps"}
    )
    lora_r: int = field(default=SFTSettings.lora_r, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=SFTSettings.lora_alpha, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=SFTSettings.lora_dropout, metadata={"help": "LoRA dropout"})
    gradient_checkpointing: bool = field(
        default=SFTSettings.gradient_checkpointing,
        metadata={"help": "recompute activations in the backward pass: less memory, slower"},
    )
    loss_on: Literal["answer", "full"] = field(
        default=SFTSettings.loss_on,
        metadata={"help": "loss on the answer token, or the whole text"},
    )
    train_sequences: int | None = field(
        default=256, metadata={"help": "seeded sample of training sequences (None: all)"}
    )
    valid_requests: int | None = field(
        default=100,
        metadata={
            "help": "validation requests for checkpoint selection, when epochs > 1 "
            "(0: none, keep the last epoch; None: all)"
        },
    )
    users_per_batch: int = field(default=8, metadata={"help": "users per scoring batch"})
    batch_tokens: int | None = field(
        default=None,
        metadata={
            "help": "size scoring batches by tokens instead (prefix padding counted; "
            "e.g. 65536 on a GPU); None: users_per_batch users",
            THROUGHPUT: True,
        },
    )
    adapter: str | None = field(
        default=None, metadata={"help": "load this saved adapter folder instead of training"}
    )

    def __post_init__(self):
        check_model_name(self.model)
        self.sft_settings()  # the SFT options' checks
        for name in (
            "users_per_batch",
            "batch_tokens",
            "examples_per_user",
            "negatives",
        ):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.recent_items is not None and self.recent_items < 0:
            raise ValueError("recent_items must be at least 0")
        if self.train_sequences is not None and self.train_sequences < 1:
            raise ValueError("train_sequences must be at least 1 (or none for all)")
        if self.valid_requests is not None and self.valid_requests < 0:
            raise ValueError("valid_requests must be at least 0 (0: no validation; none: all)")

    def sft_settings(self, **given: Any) -> SFTSettings:
        """The SFT settings these options name (:data:`SFT_OPTIONS`), ``given`` on top (a
        row's seed, a head's loss); building them runs SFTSettings' checks."""
        return SFTSettings(**{**{name: getattr(self, name) for name in SFT_OPTIONS}, **given})


@dataclass(frozen=True)
class SummaryOptions(LLMOptions):
    """LLM options plus a summarizer chosen by name: what a summary-reading prompt needs."""

    summarizer: str = field(
        default="none",
        metadata={"help": "none, hierarchical, recurrent or any registered summarizer"},
    )
    summarizer_options: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "the chosen summarizer's own options (see `harness plugins -v`)",
            NESTED: "summarizer",
        },
    )
    block_size: int = field(default=5, metadata={"help": "items per summarized block (B)"})
    summary_tokens: int = field(default=64, metadata={"help": "max new tokens per summary"})
    summary_batch_size: int = field(
        default=64,
        metadata={"help": "prompts per generation batch (larger is faster, more memory)"},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.summarizer == "none" and self.summarizer_options:
            raise ValueError("summarizer=none takes no summarizer.KEY options")

    def chosen_summarizer(self, registry=None) -> ChosenSummarizer | None:
        """The summarizer these options name (None for ``none``), with the settings above
        offered to it where it declares them, from the run's registry."""
        if self.summarizer == "none":
            return None
        inherited = {
            "model": self.model,
            "block_size": self.block_size,
            "max_new_tokens": self.summary_tokens,
            "batch_size": self.summary_batch_size,
        }
        return ChosenSummarizer(self.summarizer, dict(self.summarizer_options), inherited, registry)


def summary_sections(
    windows: Sequence[Window],
    dataset: Dataset,
    context: RunContext,
    chosen: ChosenSummarizer | None,
    recent: int | None,
) -> list[list[tuple[str, str]]]:
    """LLM-TRSR's user sections per window: [Preference Summary] and the ``recent`` newest
    items ([Recent Items] alone without a summarizer, its ``summarizer=none`` ablation).

    Any recommender that puts a summary in its prompt (a yes/no or a
    listwise head) calls this, so the user section is the same whatever the head.
    """
    recent_lines = [
        numbered(dataset.catalog.texts(w.history[-recent:])) if recent and len(w.history) else ""
        for w in windows
    ]
    if chosen is None:
        return [[("Recent Items", lines or "(none)")] for lines in recent_lines]
    with context.phase("summaries"):
        summaries = chosen.summaries(windows, dataset, context)
    out = []
    for summary, lines in zip(summaries, recent_lines):
        parts = [("Preference Summary", summary)]
        if recent:
            parts.append(("Recent Items", lines or "(none)"))
        out.append(parts)
    return out


def check_model_name(model: str | None) -> None:
    """A model option must name a folder, or a hub id when the hub is reachable: caught
    when the options are built, before any row trains, not when the model loads."""
    if model is None or Path(model).expanduser().exists():
        return
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    if offline or model.startswith((".", "/", "~")):
        where = "HF_HUB_OFFLINE is set" if offline else "no such folder"
        raise ValueError(f"model {model!r} is not a folder and cannot be fetched ({where})")


def nested_sample(items: list, limit: int | None, seed: Sequence[int]) -> list:
    """The first ``limit`` of one seeded permutation of ``items``, in their original order.

    Samples of different sizes under the same seed are nested (the 30 of a
    smaller sample are among the 60 of a larger one), so a learning curve over
    sample sizes adds data instead of swapping it.
    """
    if limit is None or len(items) <= limit:
        return list(items)
    order = np.random.default_rng(list(seed)).permutation(len(items))
    return [items[i] for i in sorted(order[:limit])]


def numbered(lines: Sequence[str]) -> str:
    """Item lines as a numbered list, oldest first: how every prompt shows items."""
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, start=1))


def selection_metrics(scores: np.ndarray, positives: np.ndarray) -> dict[str, float]:
    """What a validation pass reports: the mean of :data:`~harness.metrics.SELECTION` (the
    checkpoint is selected on it) and of the headline metric, of scores against each
    request's positive index."""
    metrics = candidate_metrics(scores, positives)
    return {key: float(metrics[key].mean()) for key in (SELECTION, HEADLINE)}


class LLMRecommender(Recommender):
    """Base class of LLM recommenders, whatever their scoring head.

    The pieces every head shares, each usable alone: loading the model
    (:meth:`load`), the training targets (:meth:`training_examples`, the
    same targets and negatives for every head), the validation sample
    (:meth:`valid_sample`), LoRA SFT from the options with its report
    recorded for the board (:meth:`train`), and a saved adapter
    (``adapter=FOLDER``). A head says what its prompt holds about the user
    (:meth:`sections`) and how it scores; :class:`PromptedYesNoRecommender`
    is the pointwise yes/no head, ``listwise-llm`` a listwise one.
    """

    options: LLMOptions
    # float32 matrix products may round differently with another thread count or CPU,
    # and a trained row carries such differences through every step
    reproducible_within = 0.01

    def __init__(self, options: LLMOptions):
        self.options = options
        self.lm = None
        self.model = None  # the LoRA-adapted model after fit; None scores the base model
        self.report = None  # the TrainingReport after fit
        self.dataset: Dataset | None = None

    def capabilities(self) -> Capabilities:
        """A zero-shot or loaded-adapter row is the untrained point of its family's curve."""
        return Capabilities(trained=not (self.options.zero_shot or self.options.adapter))

    def sections(
        self, windows: Sequence[Window], dataset: Dataset, context: RunContext
    ) -> list[list[tuple[str, str]]]:
        """Per window, the titled prompt sections about the user (history, summary).

        A window is a request or a training example: its ``history``, where
        that history starts in the user's sequence (``offset``) and its
        ``candidates`` (passed so that a prompt budget can account for the
        candidate texts).
        """
        raise TypeError("subclasses define sections()")

    def load(self, context: RunContext) -> None:
        """Load the model (once per process; later calls reuse it)."""
        from harness.llm import load_model

        if self.lm is None:
            self.lm = load_model(
                self.options.model, device=context.device, cache_dir=context.cache_dir
            )

    def precompute(
        self, data: TrainData, requests: Sequence[Request], context: RunContext
    ) -> dict[str, int]:
        """Build every prompt a run with these options needs, without training or scoring.

        Covers the training examples, the validation sample and ``requests``;
        whatever building them costs (LLM-TRSR's summaries) is cached by
        content, so a later ``harness evaluate`` with the same settings reads
        it back. Returns the number of prompt prefixes built per part.
        """
        self.load(context)
        self.dataset = data.dataset
        examples = [] if self.options.zero_shot else self.training_examples(data, context.seed)
        valid = [] if self.options.zero_shot else self.valid_sample(data.valid, context.seed)
        self.sections([*examples, *valid, *requests], data.dataset, context)
        return {"train": len(examples), "valid": len(valid), "test": len(requests)}

    def _share_prompt_building(self, windows: list, dataset: Dataset, context: RunContext) -> None:
        """In a data-parallel run, each process first builds (and caches) its share of the
        prompts, LLM-TRSR's summaries above all; the full pass then reads them back.

        Shares are contiguous runs of windows, not every N-th one: a user's windows are
        adjacent and share their aligned block summaries, so a user lands on one process
        and no two processes generate the same summary (but at the shares' edges)."""
        here = data_parallel.world()
        if not here.parallel:
            return
        self.sections(contiguous_share(windows, here.rank, here.size), dataset, context)
        data_parallel.barrier(here)

    def training_windows(
        self, data: TrainData, context: RunContext
    ) -> tuple[list[TrainingExample], list[Request]] | None:
        """Load the model, then the training examples and validation sample to fine-tune on,
        their prompts' expensive parts shared out among data-parallel ranks; None when the
        row does not train (zero-shot, or a saved adapter, which this loads)."""
        self.load(context)
        self.dataset = data.dataset
        if self.options.adapter:
            self._load_adapter(self.options.adapter)
            return None
        if self.options.zero_shot:
            return None
        examples = self.training_examples(data, context.seed)
        valid = self.valid_sample(data.valid, context.seed)
        self._share_prompt_building([*examples, *valid], data.dataset, context)
        return examples, valid

    def scoring_resume(self, context: RunContext):
        """Where a scoring pass keeps its finished batches so a killed row resumes them
        (:class:`harness.llm.ScoredBatches`; None outside ``harness evaluate``). Under
        data parallel each rank scores its own shard, so each keeps its own folder."""
        if context.work_dir is None:
            return None
        from harness.llm.resume import ScoredBatches

        here = data_parallel.world()
        folder = f"scored-rank{here.rank}" if here.parallel else "scored"
        return ScoredBatches(context.work_dir / folder)

    def _load_adapter(self, folder: str) -> None:
        from peft import PeftModel

        from harness.llm.sft import fresh_model

        self.model = PeftModel.from_pretrained(fresh_model(self.lm), folder).eval()

    def sft_settings(self, seed: int, loss: str | None = None) -> SFTSettings:
        """The LoRA SFT settings the options give (``loss`` overrides the option's)."""
        return self.options.sft_settings(seed=seed, loss=loss or self.options.loss)

    def train(
        self,
        examples: Sequence,
        answers: Sequence[str],
        validate,
        context: RunContext,
        loss: str | None = None,
    ) -> None:
        """LoRA SFT on ``examples`` (prompt groups or choice prompts) with these answer words;
        the trained model and its report are kept, the report recorded for the board.

        ``validate(model)`` (or None) returns :func:`selection_metrics` for an
        epoch's adapter; the epoch with the best recall@3 is kept.
        """
        from harness.llm.sft import train_lora

        run_dir = context.run_dir or runs_dir(context.cache_dir)
        self.model, self.report = train_lora(
            self.lm,
            examples,
            self.sft_settings(context.seed, loss),
            run_dir,
            validate=validate,
            progress=context.progress,
            checkpoint_dir=context.work_dir / "trainer" if context.work_dir else None,
            answers=tuple(answers),
        )
        for key, value in self.report.summary().items():
            if value is not None:
                context.record_cost(key, value)
        context.add_phase("train", self.report.training_seconds)
        context.add_phase("validation", self.report.validation_seconds)
        context.record_training(
            {
                "log": self.report.log,
                "validation": self.report.validation,
                "learned": self.report.learned,
            }
        )

    def training_examples(
        self, data: TrainData, seed: int, negatives: int | None = None
    ) -> list[TrainingExample]:
        """Up to ``examples_per_user`` targets per sampled training sequence, newest first.

        Each target gets the history window before it (at most the split's
        history length) and ``negatives`` items (the option, unless given)
        drawn from outside the user's whole sequence, so a "no" is never the
        user's own held-out item.
        """
        negatives = self.options.negatives if negatives is None else negatives
        usable = [i for i, s in enumerate(data.train) if len(s) >= 2]
        usable = nested_sample(usable, self.options.train_sequences, [seed, 3])
        examples = []
        for index in usable:
            seq = data.train[index]
            # a user's examples depend on the seed and the user alone, so the examples of a
            # smaller sample are exactly those of its users in a larger one
            rng = np.random.default_rng([seed, 3, index])
            first = max(1, len(seq) - self.options.examples_per_user)
            for position in range(len(seq) - 1, first - 1, -1):
                start = max(0, position - data.history_length)
                drawn = data.sample_negatives(index, negatives, rng)
                examples.append(
                    TrainingExample(
                        history=seq[start:position],
                        offset=start,
                        candidates=(int(seq[position]), *drawn),
                        labels=(True,) + (False,) * len(drawn),
                    )
                )
        return examples

    def valid_sample(self, valid: list[Request], seed: int) -> list[Request]:
        """The validation requests for checkpoint selection; none when there is one epoch.

        One epoch leaves one checkpoint, so validating it would cost scoring
        (and, for LLM-TRSR, summaries) and select nothing; ``valid_requests=0``
        keeps the last epoch without validating. A smaller sample is a subset of
        a larger one (:func:`nested_sample`).
        """
        if self.options.epochs == 1 or self.options.valid_requests == 0:
            return []
        return nested_sample(list(valid), self.options.valid_requests, [seed, 4])
