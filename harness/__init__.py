"""A plugin-based benchmark harness for LLM sequential recommenders.

The public surface a plugin codes against is the names below (and those of
:mod:`harness.llm`, the LLM runtime). They are imported on first use, so
``harness plugins`` and a plugin's registration do not pay for numpy or torch.
Everything else in the package is internal and may move.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from harness.hookspecs import hookimpl

__version__ = "0.1.0"

_EXPORTS = {
    # errors
    "HarnessError": "harness.errors",
    "PluginError": "harness.errors",
    "plugin_errors": "harness.errors",
    # the recommender contract
    "Recommender": "harness.recommender",
    "Capabilities": "harness.recommender",
    "Request": "harness.recommender",
    "LabeledRequest": "harness.recommender",
    "TrainData": "harness.recommender",
    "RunContext": "harness.recommender",
    "PROMPT_TOKENS_PER_REQUEST": "harness.costs",
    "PROMPT_BUDGET_TOKENS": "harness.costs",
    # the summarizer contract
    "Summarizer": "harness.summarizer",
    "ChosenSummarizer": "harness.summarizer",
    "checked_summaries": "harness.summarizer",
    "SUMMARY_PROMPTS": "harness.summarizer",
    "SUMMARY_PROMPTS_GENERATED": "harness.summarizer",
    "SUMMARY_TOKENS_GENERATED": "harness.summarizer",
    # datasets
    "Dataset": "harness.dataset",
    "Catalog": "harness.dataset",
    "DatasetContext": "harness.data",
    "render_item": "harness.data.text",
    "ItemWriter": "harness.data.cache",
    "load_or_build": "harness.data.cache",
    "write_sequences": "harness.data.cache",
    # how prompts word a domain
    "DOMAINS": "harness.domains",
    "GENERIC": "harness.domains",
    "DomainWords": "harness.domains",
    "domain_words": "harness.domains",
    # options, metrics, paths
    "build_options": "harness.options",
    "NESTED": "harness.options",
    "candidate_metrics": "harness.metrics",
    "generations_dir": "harness.paths",
    "default_registry": "harness.plugins",
    "current_registry": "harness.plugins",
    # the LLM recommender base
    "LLMOptions": "harness.recommenders.llm",
    "PromptedYesNoRecommender": "harness.recommenders.yes_no",
    "LLMRecommender": "harness.recommenders.llm",
    "SummaryOptions": "harness.recommenders.llm",
    "summary_sections": "harness.recommenders.llm",
    "selection_metrics": "harness.recommenders.llm",
    "TrainingExample": "harness.recommenders.llm",
    "Window": "harness.recommenders.llm",
    "check_model_name": "harness.recommenders.llm",
    "numbered": "harness.recommenders.llm",
}

__all__ = [
    "Capabilities",
    "Catalog",
    "ChosenSummarizer",
    "DOMAINS",
    "Dataset",
    "DomainWords",
    "GENERIC",
    "DatasetContext",
    "HarnessError",
    "ItemWriter",
    "LLMOptions",
    "LLMRecommender",
    "LabeledRequest",
    "NESTED",
    "PROMPT_BUDGET_TOKENS",
    "PROMPT_TOKENS_PER_REQUEST",
    "PluginError",
    "PromptedYesNoRecommender",
    "Recommender",
    "Request",
    "RunContext",
    "SUMMARY_PROMPTS",
    "SUMMARY_PROMPTS_GENERATED",
    "SUMMARY_TOKENS_GENERATED",
    "Summarizer",
    "SummaryOptions",
    "TrainData",
    "TrainingExample",
    "Window",
    "build_options",
    "candidate_metrics",
    "check_model_name",
    "checked_summaries",
    "current_registry",
    "domain_words",
    "default_registry",
    "generations_dir",
    "hookimpl",
    "load_or_build",
    "numbered",
    "plugin_errors",
    "render_item",
    "selection_metrics",
    "summary_sections",
    "write_sequences",
]

if TYPE_CHECKING:
    from harness.costs import PROMPT_BUDGET_TOKENS, PROMPT_TOKENS_PER_REQUEST
    from harness.data import DatasetContext
    from harness.data.cache import ItemWriter, load_or_build, write_sequences
    from harness.data.text import render_item
    from harness.dataset import Catalog, Dataset
    from harness.domains import DOMAINS, GENERIC, DomainWords, domain_words
    from harness.errors import HarnessError, PluginError, plugin_errors
    from harness.metrics import candidate_metrics
    from harness.options import NESTED, build_options
    from harness.paths import generations_dir
    from harness.plugins import current_registry, default_registry
    from harness.recommender import (
        Capabilities,
        LabeledRequest,
        Recommender,
        Request,
        RunContext,
        TrainData,
    )
    from harness.recommenders.llm import (
        LLMOptions,
        LLMRecommender,
        SummaryOptions,
        TrainingExample,
        Window,
        check_model_name,
        numbered,
        summary_sections,
    )
    from harness.recommenders.yes_no import PromptedYesNoRecommender
    from harness.summarizer import (
        SUMMARY_PROMPTS,
        SUMMARY_PROMPTS_GENERATED,
        SUMMARY_TOKENS_GENERATED,
        ChosenSummarizer,
        Summarizer,
        checked_summaries,
    )


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
