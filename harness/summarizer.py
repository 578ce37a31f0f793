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


class ChosenSummarizer:
    """A summarizer a recommender picks by name, with its options, from the run's registry.

    What LLM-TRSR and any other summary-reading recommender share:
    ``inherited`` are settings the recommender offers the summarizer
    (``model``, ``block_size``, ``max_new_tokens``, ``batch_size``), applied
    where the summarizer declares an option of that name; ``given`` are the
    user's ``summarizer.KEY`` options, validated against what it declares.
    The registry is the run's (:func:`harness.plugins.current_registry` when
    the recommender is built), so nested names resolve where the run's own
    names did.
    """

    def __init__(self, name: str, given: dict, inherited: dict, registry=None):
        import dataclasses

        from harness.errors import HarnessError
        from harness.options import build_options
        from harness.plugins import current_registry

        self.name = name
        self.registration = (registry or current_registry()).get("summarizers", name)
        reg = self.registration
        if "block_size" in given:
            raise HarnessError(
                "set block_size on the recommender, not summarizer.block_size: both cut the history"
            )
        declared = {f.name for f in dataclasses.fields(reg.options)} if reg.options else set()
        raw = {k: v for k, v in inherited.items() if k in declared and v is not None}
        raw.update(given)
        self.options = build_options(reg.options, raw, f"summarizer {reg.name!r} (summarizer.KEY)")
        self._instance: Summarizer | None = None

    def summarizer(self) -> Summarizer:
        """The summarizer itself, built on first use."""
        from harness.errors import plugin_errors

        if self._instance is None:
            reg = self.registration
            with plugin_errors(f"summarizer {reg.name!r} ({reg.plugin}) failed to initialise"):
                self._instance = reg.factory(self.options)
        return self._instance

    def aligned(self, history, offset: int):
        """The history from its first block boundary at a fixed position of the sequence.

        Blocks start at multiples of the summarizer's ``block_size`` in the
        user's whole sequence, so two windows of one user (training targets one
        item apart, the validation and the test request) cut the same full
        blocks: each is summarized once per user and read from the cache
        afterwards, and only the newest partial block and the merge are new.
        The items before the first boundary (fewer than a block) stay out of
        the summary.
        """
        block = getattr(self.summarizer(), "block_size", None)
        if not block:
            return history
        skip = -offset % block
        return history[skip:] if skip < len(history) else history

    def summaries(self, windows: Sequence, dataset, context: RunContext) -> list[str]:
        """One summary per window (anything with ``history`` and ``offset``)."""
        from harness.errors import plugin_errors

        texts = [dataset.catalog.texts(self.aligned(w.history, w.offset)) for w in windows]
        with plugin_errors(f"summarizer {self.name!r} failed"):
            summaries = self.summarizer().summarize(texts, context, dataset.domain)
        return checked_summaries(summaries, texts, self.name)
