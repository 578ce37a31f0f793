"""An example third-party summarizer: the user's newest item lines, verbatim.

Installed with pip, it plugs into LLM-TRSR with its own option::

    harness evaluate -r "llm-trsr[summarizer=last-lines,summarizer.keep=2]"

It is also a useful ablation: a "summary" that is only recency, no LLM.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness import Summarizer, hookimpl


@dataclass(frozen=True)
class LastLinesOptions:
    keep: int = field(default=3, metadata={"help": "newest item lines kept"})
    lead: str = field(default="Most recently:", metadata={"help": "text before the lines"})

    def __post_init__(self):
        if self.keep < 1:
            raise ValueError("keep must be at least 1")


class LastLinesSummarizer(Summarizer):
    """The ``keep`` newest lines of each history, joined after ``lead``."""

    def __init__(self, options: LastLinesOptions):
        self.options = options

    def summarize(self, histories, context, domain):
        out = []
        for lines in histories:
            newest = list(lines)[-self.options.keep :]
            out.append(f"{self.options.lead} " + " | ".join(newest) if newest else "No history.")
        return out


@hookimpl
def register_summarizers(register):
    register(
        "last-lines",
        LastLinesSummarizer,
        options=LastLinesOptions,
        description="example plugin: the newest item lines as the summary (no LLM)",
    )
