"""What a summarizer receives and returns: the contract a summarizer plugin codes against.

A summarizer turns item-text histories into preference summaries. LLM-TRSR
(and any recommender that wants one) picks a summarizer by name from the
registry, so a third-party summarizer plugs into it without touching it:

    llm-trsr[summarizer=NAME,summarizer.KEY=VALUE]

Each ``summarizer.KEY`` is one of the options the summarizer declares
(``register(name, factory, options=OptionsDataclass)``), validated like any
other option. In an experiment file the same run reads::

    options = { summarizer = { name = "NAME", KEY = VALUE } }
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from harness.recommender import RunContext

SUMMARY_PROMPTS = "summary_prompts"
SUMMARY_PROMPTS_GENERATED = "summary_prompts_generated"
SUMMARY_TOKENS_GENERATED = "summary_tokens_generated"


class Summarizer(ABC):
    """Base class for summarizers; a plugin may also duck-type :meth:`summarize`.

    ``block_size``: a summarizer that cuts histories into blocks of this many
    items sets it, and the recommender then starts every history window at a
    block boundary of the user's sequence, so that two windows of one user
    share their full blocks (and their cached summaries). ``None`` (the
    default) means the summarizer reads a history as a whole.
    """

    block_size: int | None = None

    @abstractmethod
    def summarize(
        self, histories: Sequence[Sequence[str]], context: RunContext, domain: str
    ) -> list[str]:
        """One preference summary per history.

        ``histories`` are lists of item-text lines, oldest first; a history may
        be empty and still gets a summary (for instance "no history yet").
        ``domain`` is the dataset's (``"movies"``, ``"news"``, ``"products"``
        or any other string). Report what the summaries cost through
        ``context.record_cost``: :data:`SUMMARY_PROMPTS` (prompts asked for,
        cumulative over the run), :data:`SUMMARY_PROMPTS_GENERATED` (those not
        read from a cache) and :data:`SUMMARY_TOKENS_GENERATED`; a summarizer
        that uses no LLM reports nothing.
        """


def checked_summaries(summaries: object, histories: Sequence[object], name: str) -> list[str]:
    """The summarizer's output if it is one string per history; otherwise a clear error."""
    from harness.errors import PluginError

    if not isinstance(summaries, list | tuple) or len(summaries) != len(histories):
        got = len(summaries) if isinstance(summaries, list | tuple) else type(summaries).__name__
        raise PluginError(
            f"summarizer {name!r} returned {got} summaries for {len(histories)} histories"
        )
    bad = next((s for s in summaries if not isinstance(s, str)), None)
    if bad is not None:
        raise PluginError(f"summarizer {name!r} returned a {type(bad).__name__}, not a string")
    return list(summaries)
