"""Registers LLM-TRSR's summarizers and recommender through the public hooks."""

from __future__ import annotations

from harness import hookimpl


def _hierarchical(options):
    from llm_trsr.summarizers import HierarchicalSummarizer

    return HierarchicalSummarizer(options)


def _recurrent(options):
    from llm_trsr.summarizers import RecurrentSummarizer

    return RecurrentSummarizer(options)


def _recommender(options):
    from llm_trsr.recommender import LLMTRSR

    return LLMTRSR(options)


@hookimpl
def register_summarizers(register):
    from llm_trsr.summarizers import SummarizerOptions

    register(
        "hierarchical",
        _hierarchical,
        options=SummarizerOptions,
        description="summarize each block of B items, then merge the block summaries",
    )
    register(
        "recurrent",
        _recurrent,
        options=SummarizerOptions,
        description="summarize block 1, then update the summary with each next block",
    )


@hookimpl
def register_recommenders(register):
    from llm_trsr.recommender import TRSROptions

    register(
        "llm-trsr",
        _recommender,
        options=TRSROptions,
        description="LLM-TRSR: preference summary + recent items, LoRA SFT, P(yes) ranking",
    )
