"""Render an item's fields as one prompt line: ``"field: value; field: value"``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def is_missing(value: object) -> bool:
    """Empty strings, ``None`` and NaN (pandas' missing brand, say) carry no text."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    text = str(value).strip()
    return text == "" or text.lower() == "nan"


def cap_words(text: str, max_words: int | None) -> str:
    """Keep at most ``max_words`` words so a long description cannot blow up a prompt."""
    words = text.split()
    if max_words is not None and len(words) > max_words:
        words = words[:max_words]
    return " ".join(words)


def render_item(
    values: Mapping[str, object],
    fields: Sequence[str],
    max_words: int | None = None,
) -> str:
    """Join the present ``fields`` in order; missing fields are left out, not printed empty."""
    parts = []
    for name in fields:
        value = values.get(name)
        if is_missing(value):
            continue
        text = cap_words(str(value), max_words)
        if text:
            parts.append(f"{name}: {text}")
    return "; ".join(parts)
