"""A split as a ``datasets.DatasetDict``, so other tools score exactly our candidate lists.

Splits: ``train`` (sequence id, items), ``validation`` and ``test`` (sequence
id, history, candidates, target, offset) and ``catalog`` (item id, text),
all with the dataset's original ids. ``split.json`` beside them names the
split's sha256 and parameters, the identity the leaderboards print.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.atomic import publish_folder
from harness.splits import Split


def split_to_hf(split: Split):
    """The split as a DatasetDict (original item ids throughout)."""
    from datasets import Dataset, DatasetDict

    ids = split.dataset.catalog.ids

    def requests(part) -> Dataset:
        return Dataset.from_dict(
            {
                "sequence_id": [r.sequence_id for r in part],
                "history": [[ids[i] for i in r.history.tolist()] for r in part],
                "candidates": [[ids[i] for i in r.candidates.tolist()] for r in part],
                "target": [ids[r.target] for r in part],
                "offset": [r.offset for r in part],
            }
        )

    catalog = split.dataset.catalog
    return DatasetDict(
        train=Dataset.from_dict(
            {
                "sequence_id": list(split.train_ids),
                "items": [[ids[i] for i in seq.tolist()] for seq in split.train],
            }
        ),
        validation=requests(split.valid),
        test=requests(split.test),
        catalog=Dataset.from_dict(
            {"item_id": list(ids), "text": [catalog.text(i) for i in range(len(ids))]}
        ),
    )


def write_hf_split(split: Split, out: Path) -> Path:
    """Save the DatasetDict to ``out`` (replaced whole, never left half-written)."""
    out = Path(out)
    with publish_folder(out) as tmp:
        split_to_hf(split).save_to_disk(str(tmp / "data"))
        for item in (tmp / "data").iterdir():
            item.rename(tmp / item.name)
        (tmp / "data").rmdir()
        identity = {
            "dataset": split.dataset.name,
            "sha256": split.sha256,
            "params": {k: v for k, v in vars(split.config).items()},
        }
        (tmp / "split.json").write_text(json.dumps(identity, indent=2) + "\n")
    return out
