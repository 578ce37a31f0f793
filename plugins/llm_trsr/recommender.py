"""The ``llm-trsr`` recommender: [Preference Summary] + [Recent Items] + [Candidate Item].

Everything but the prompt (training pairs, LoRA SFT, checkpoint selection,
shared-prefix scoring) is :class:`harness.llm_recommender.PromptedYesNoRecommender`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import (
    NESTED,
    Dataset,
    HarnessError,
    LLMOptions,
    PromptedYesNoRecommender,
    RunContext,
    Summarizer,
    build_options,
    checked_summaries,
    plugin_errors,
)
from llm_trsr.prompts import numbered


@dataclass(frozen=True)
class TRSROptions(LLMOptions):
    summarizer: str = field(
        default="hierarchical",
        metadata={"help": "hierarchical, recurrent, any registered summarizer, or none"},
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


class LLMTRSR(PromptedYesNoRecommender):
    """LLM-TRSR (Zheng et al., WWW 2024) on the shared yes/no LLM machinery."""

    options: TRSROptions

    def __init__(self, options: TRSROptions, registry=None):
        super().__init__(options)
        self._registry = registry
        self._summarizer = None
        label = options.summarizer + (", zero-shot" if options.zero_shot else "")
        self.row_name = f"llm-trsr ({label})"
        if options.summarizer != "none":
            self._summarizer_options = self.summarizer_settings()
        elif options.summarizer_options:
            raise HarnessError("summarizer=none takes no summarizer.KEY options")

    def capabilities(self):
        """LLM-TRSR's families are its summarizers; a summarizer's output can be precomputed."""
        return dataclasses.replace(
            super().capabilities(),
            variant=self.options.summarizer,
            precompute=self.options.summarizer != "none",
        )

    def _registration(self):
        from harness import default_registry

        registry = self._registry or default_registry()
        return registry.get("summarizers", self.options.summarizer)

    def summarizer_settings(self):
        """The summarizer's options: LLM-TRSR's own settings where the summarizer declares
        them (model, block_size, max_new_tokens, batch_size), then every
        ``summarizer.KEY`` given, validated against what the summarizer declares."""
        reg = self._registration()
        given = dict(self.options.summarizer_options)
        if "block_size" in given:
            raise HarnessError(
                "set block_size on llm-trsr, not summarizer.block_size: both cut the history"
            )
        declared = {f.name for f in dataclasses.fields(reg.options)} if reg.options else set()
        inherited = {
            "model": self.options.model,
            "block_size": self.options.block_size,
            "max_new_tokens": self.options.summary_tokens,
            "batch_size": self.options.summary_batch_size,
        }
        raw = {k: v for k, v in inherited.items() if k in declared and v is not None}
        raw.update(given)
        return build_options(reg.options, raw, f"summarizer {reg.name!r} (summarizer.KEY)")

    def summarizer(self) -> Summarizer:
        """The summarizer chosen by name from every installed plugin's registrations."""
        if self._summarizer is None:
            reg = self._registration()
            with plugin_errors(f"summarizer {reg.name!r} ({reg.plugin}) failed to initialise"):
                self._summarizer = reg.factory(self._summarizer_options)
        return self._summarizer

    def aligned(self, history: np.ndarray, offset: int) -> np.ndarray:
        """The history from its first block boundary at a fixed position of the sequence.

        Blocks start at multiples of ``block_size`` in the user's whole
        sequence, so two windows of one user (training targets one item apart,
        the validation and the test request) cut the same full blocks: each is
        summarized once per user and read from the cache afterwards, and only
        the newest partial block and the merge are new. The items before the
        first boundary (fewer than a block) stay out of the summary; the
        recent-items section still shows the newest ones.
        """
        block = getattr(self.summarizer(), "block_size", None)
        if not block:
            return history
        skip = -offset % block
        return history[skip:] if skip < len(history) else history

    def summaries(
        self,
        histories: Sequence[np.ndarray],
        offsets: Sequence[int],
        dataset: Dataset,
        context: RunContext,
    ) -> list[str]:
        texts = [dataset.catalog.texts(self.aligned(h, o)) for h, o in zip(histories, offsets)]
        name = self.options.summarizer
        with plugin_errors(f"summarizer {name!r} failed"):
            summaries = self.summarizer().summarize(texts, context, dataset.domain)
        return checked_summaries(summaries, texts, name)

    def sections(self, windows, dataset, context):
        histories = [w.history for w in windows]
        recent = self.options.recent_items
        recent_lines = [
            numbered(dataset.catalog.texts(h[-recent:])) if recent and len(h) else ""
            for h in histories
        ]
        if self.options.summarizer == "none":
            return [[("Recent Items", lines or "(none)")] for lines in recent_lines]
        out = []
        summaries = self.summaries(histories, [w.offset for w in windows], dataset, context)
        for summary, lines in zip(summaries, recent_lines):
            parts = [("Preference Summary", summary)]
            if recent:
                parts.append(("Recent Items", lines or "(none)"))
            out.append(parts)
        return out
