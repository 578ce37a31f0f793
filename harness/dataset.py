"""The dataset contract: the data model every loader produces and every recommender reads.

Items are dense integer indices into a :class:`Catalog`; a sequence is an
``int32`` array of item indices in time order (ties already broken by file
order). Original item and user ids are kept for persisted files and reports.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from harness.domains import DOMAINS

# A dataset's domain is any string. Prompts have their own wording for these
# (harness.domains); any other domain gets a generic wording ("items", "interacted with").
KNOWN_DOMAINS = tuple(sorted(DOMAINS))
Domain = str


class Catalog:
    """Item ids and one text line per item (``"field: value; ..."``)."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str]):
        if len(ids) != len(texts):
            raise ValueError("ids and texts differ in length")
        self._ids = list(ids)
        self._texts = texts
        self._index = {item_id: i for i, item_id in enumerate(self._ids)}
        if len(self._index) != len(self._ids):
            raise ValueError("duplicate item ids in catalog")

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> list[str]:
        return self._ids

    def item_id(self, index: int) -> str:
        return self._ids[index]

    def index(self, item_id: str) -> int | None:
        """Dense index of an original item id, or ``None`` if unknown."""
        return self._index.get(item_id)

    def text(self, index: int) -> str:
        return self._texts[int(index)]

    def texts(self, indices: Sequence[int]) -> list[str]:
        return [self.text(i) for i in indices]


@dataclass
class Dataset:
    """A catalog plus ordered interaction sequences.

    ``kind="users"`` means one sequence per user, split leave-one-out;
    ``kind="sessions"`` means independent sequences (sessions, impressions)
    that are assigned whole to train, validation or test.
    """

    name: str
    domain: Domain
    catalog: Catalog
    sequence_ids: list[str]
    sequences: list[np.ndarray]
    kind: Literal["users", "sessions"] = "users"
    source: dict[str, str] = field(default_factory=dict)
    # per sequence, the time of each interaction (float64, same order), where the source has
    # them: the global-time split needs them; not part of the fingerprint
    timestamps: list[np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.sequence_ids) != len(self.sequences):
            raise ValueError("sequence_ids and sequences differ in length")
        if self.timestamps is not None and [len(t) for t in self.timestamps] != [
            len(s) for s in self.sequences
        ]:
            raise ValueError("timestamps and sequences differ in length")

    @property
    def n_interactions(self) -> int:
        return int(sum(len(s) for s in self.sequences))

    def fingerprint(self) -> str:
        """sha256 of ids and sequences: a split is reused only for identical data."""
        digest = hashlib.sha256()
        digest.update(self.name.encode())
        digest.update("\x1f".join(self.catalog.ids).encode())
        digest.update("\x1f".join(self.sequence_ids).encode())
        lengths = np.fromiter(
            (len(s) for s in self.sequences), dtype=np.int64, count=len(self.sequences)
        )
        digest.update(lengths.tobytes())
        if self.sequences:
            digest.update(np.concatenate(self.sequences).astype(np.int32).tobytes())
        return digest.hexdigest()
