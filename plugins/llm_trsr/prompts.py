"""The paper's prompts, per domain, and the blocks they are filled with.

Every template is a plain ``str.format`` string so a user can override it
from the summarizer's options; the domain only changes the nouns and verbs.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness import DOMAINS, GENERIC, DomainWords, domain_words, numbered

__all__ = [
    "DOMAINS",
    "GENERIC",
    "DomainWords",
    "cut_blocks",
    "domain_words",
    "fill",
    "numbered",
]


BLOCK_TEMPLATE = (
    "Given the historical {interaction} data of a user, where each line is one of the "
    "{items} the user {action}, oldest first:\n{lines}\n\n"
    "Craft a concise summary that captures the user's preferences."
)
MERGE_TEMPLATE = (
    "Below are summaries of a user's preferences in {items}, each covering a consecutive "
    "period of the user's history, oldest first:\n{summaries}\n\n"
    "Combine them into one concise summary of the user's overall preferences."
)
RECURRENT_TEMPLATE = (
    "Here is a summary of a user's preferences in {items} so far:\n{summary}\n\n"
    "These are the {items} the user {action} next, oldest first:\n{lines}\n\n"
    "Write an updated, complete summary of the user's preferences."
)


def cut_blocks(lines: Sequence[str], size: int) -> list[list[str]]:
    """Cut a history (oldest first) into blocks of ``size`` items; the last may be shorter."""
    if size < 1:
        raise ValueError("block size must be at least 1")
    return [list(lines[i : i + size]) for i in range(0, len(lines), size)]


def check_template(name: str, template: str, needed: tuple[str, ...]) -> None:
    """A template must fill with the domain words and its own fields, and use the latter."""
    values = {key: "x" for key in needed}
    try:
        fill(template, GENERIC, **values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            f"{name}: cannot fill it ({type(exc).__name__}: {exc}); placeholders are "
            f"{{items}}, {{action}}, {{interaction}}, " + ", ".join(f"{{{key}}}" for key in needed)
        ) from None
    missing = [key for key in needed if f"{{{key}}}" not in template]
    if missing:
        raise ValueError(f"{name} must contain {', '.join(f'{{{k}}}' for k in missing)}")


def fill(template: str, words: DomainWords, **values: str) -> str:
    return template.format(
        items=words.items, action=words.action, interaction=words.interaction, **values
    )
