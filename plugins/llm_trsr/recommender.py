"""The ``llm-trsr`` recommender: [Preference Summary] + [Recent Items] + [Candidate Item].

Everything but the prompt (training pairs, LoRA SFT, checkpoint selection,
shared-prefix scoring) is :class:`harness.PromptedYesNoRecommender`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from harness import PromptedYesNoRecommender, SummaryOptions, summary_sections


@dataclass(frozen=True)
class TRSROptions(SummaryOptions):
    summarizer: str = field(
        default="hierarchical",
        metadata={"help": "hierarchical, recurrent, any registered summarizer, or none"},
    )


class LLMTRSR(PromptedYesNoRecommender):
    """LLM-TRSR (Zheng et al., WWW 2024) on the shared yes/no LLM machinery."""

    options: TRSROptions

    def __init__(self, options: TRSROptions, registry=None):
        super().__init__(options)
        label = options.summarizer + (", zero-shot" if options.zero_shot else "")
        self.row_name = f"llm-trsr ({label})"
        self.chosen = options.chosen_summarizer(registry)

    def capabilities(self):
        """LLM-TRSR's families are its summarizers; a summarizer's output can be precomputed."""
        return dataclasses.replace(
            super().capabilities(),
            variant=self.options.summarizer,
            precompute=self.options.summarizer != "none",
        )

    def sections(self, windows, dataset, context):
        return summary_sections(windows, dataset, context, self.chosen, self.options.recent_items)
