"""The ``llm-trsr`` recommender: [Preference Summary] + [Recent Items] + [Candidate Item].

Everything but the prompt (training pairs, LoRA SFT, checkpoint selection,
shared-prefix scoring) is :class:`harness.llm.pointwise.PromptedYesNoRecommender`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.data.model import Dataset
from harness.llm.pointwise import LLMOptions, PromptedYesNoRecommender
from harness.options import build_options
from harness.recommender import RunContext
from llm_trsr.prompts import numbered


@dataclass(frozen=True)
class TRSROptions(LLMOptions):
    summarizer: str = field(
        default="hierarchical",
        metadata={"help": "hierarchical, recurrent, any registered summarizer, or none"},
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

    def summarizer(self):
        """The summarizer chosen by name from every installed plugin's registrations."""
        if self._summarizer is None:
            from harness.plugins import default_registry

            registry = self._registry or default_registry()
            reg = registry.get("summarizers", self.options.summarizer)
            wanted = {
                "model": self.options.model,
                "block_size": self.options.block_size,
                "max_new_tokens": self.options.summary_tokens,
                "batch_size": self.options.summary_batch_size,
            }
            declared = {f.name for f in dataclasses.fields(reg.options)} if reg.options else set()
            options = build_options(
                reg.options,
                {k: v for k, v in wanted.items() if k in declared and v is not None},
                f"summarizer {reg.name!r}",
            )
            self._summarizer = reg.factory(options)
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
        skip = -offset % self.options.block_size
        return history[skip:] if skip < len(history) else history

    def summaries(
        self,
        histories: Sequence[np.ndarray],
        offsets: Sequence[int],
        dataset: Dataset,
        context: RunContext,
    ) -> list[str]:
        texts = [dataset.catalog.texts(self.aligned(h, o)) for h, o in zip(histories, offsets)]
        summarizer = self.summarizer()
        summaries = summarizer.summarize(texts, context, dataset.domain)
        counts = getattr(summarizer, "generation_counts", lambda: None)()
        if counts is not None:
            # cumulative over fit and score: a rerun on a warm cache shows 0 generated
            context.record_cost("summary_prompts", counts[0])
            context.record_cost("summary_prompts_generated", counts[1])
        if len(summaries) != len(texts):
            raise ValueError(
                f"summarizer {self.options.summarizer!r} returned {len(summaries)} summaries "
                f"for {len(texts)} histories"
            )
        return summaries

    def sections(self, histories, offsets, candidates, dataset, context):
        recent = self.options.recent_items
        recent_lines = [
            numbered(dataset.catalog.texts(h[-recent:])) if recent and len(h) else ""
            for h in histories
        ]
        if self.options.summarizer == "none":
            return [[("Recent Items", lines or "(none)")] for lines in recent_lines]
        out = []
        summaries = self.summaries(histories, offsets, dataset, context)
        for summary, lines in zip(summaries, recent_lines):
            parts = [("Preference Summary", summary)]
            if recent:
                parts.append(("Recent Items", lines or "(none)"))
            out.append(parts)
        return out
