"""How prompts name a dataset's domain: one table, so every prompt words a domain alike.

A dataset declares its domain as any string (``Dataset.domain``); the known
ones get their own nouns and verbs, any other gets :data:`GENERIC`. The
summary prompts fill templates with ``items``/``action``/``interaction``; the
yes/no and pick-one heads use their whole instruction sentence.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DomainWords:
    items: str  # "news articles"
    action: str  # "clicked"
    interaction: str  # "news-reading"
    yes_no: str  # the pointwise head's instruction
    pick_one: str  # the listwise head's instruction


DOMAINS = {
    "news": DomainWords(
        "news articles",
        "clicked",
        "news-reading",
        yes_no="Predict whether the user will click the candidate news article, "
        "given the news the user clicked. Answer yes or no.",
        pick_one="Which candidate news article will the user click next, given the news the "
        "user clicked? Answer with the candidate's letter only.",
    ),
    "products": DomainWords(
        "products",
        "viewed",
        "shopping",
        yes_no="Predict whether the user will view the candidate product next, "
        "given the products the user viewed in this session. Answer yes or no.",
        pick_one="Which candidate product will the user view next, given the products the "
        "user viewed in this session? Answer with the candidate's letter only.",
    ),
    "movies": DomainWords(
        "movies",
        "watched",
        "movie-watching",
        yes_no="Predict whether the user will watch the candidate movie, "
        "given the movies the user watched. Answer yes or no.",
        pick_one="Which candidate movie will the user watch next, given the movies the user "
        "watched? Answer with the candidate's letter only.",
    ),
}
# for a domain the prompts do not know (a dataset's domain is any string)
GENERIC = DomainWords(
    "items",
    "interacted with",
    "interaction",
    yes_no="Predict whether the user will interact with the candidate item, "
    "given the items the user interacted with. Answer yes or no.",
    pick_one="Which candidate item will the user interact with next, given the items the "
    "user interacted with? Answer with the candidate's letter only.",
)


def domain_words(domain: str) -> DomainWords:
    """The wording for a dataset's domain; the generic wording for any other domain."""
    return DOMAINS.get(domain, GENERIC)
