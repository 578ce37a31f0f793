"""The evaluation split: built once from a seed, persisted with its sha256, read by all.

Per-user datasets are split leave-one-out (last item test, the one before
validation, earlier positions training) or, with ``protocol="global-time"``,
at two calendar cuts (everything before the first cut trains; each user's
next item after a cut is that user's validation or test target), so no
training interaction comes after a test target. Session datasets assign whole
sequences to test, validation and training. Each request gets the target plus
``negatives`` items drawn uniformly from items absent from the whole sequence,
in an order shuffled with the seed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from harness.dataset import Dataset
from harness.errors import HarnessError
from harness.faults import kill_point
from harness.recommender import LabeledRequest, TrainData

FORMAT = "harness-split/2"  # 2: requests record their history offset
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitConfig:
    """Split parameters; all of them go into the persisted file and its hash."""

    seed: int = 0
    history: int = 25
    negatives: int = 20
    users: int | None = None  # evaluate a seeded sample of this many users / sequences
    valid_size: int = 1000  # session datasets only
    test_size: int = 1000  # session datasets only
    train_size: int | None = 10000  # session datasets only (the paper's 10k/1k/1k); None: all
    protocol: Literal["leave-one-out", "global-time"] = "leave-one-out"
    # global-time only: a quantile of all interaction times in (0, 1), or a timestamp (>= 1)
    valid_time: float | None = None
    test_time: float | None = None

    def __post_init__(self) -> None:
        # named as the option is written in both places: `[split] history` or `--history`
        for name in ("history", "negatives", "users"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise HarnessError(f"split option {name}={value}: must be at least 1")
        if self.protocol not in PROTOCOLS:
            raise HarnessError(
                f"split option protocol={self.protocol!r}: choose one of {', '.join(PROTOCOLS)}"
            )
        if self.protocol == "leave-one-out" and (self.valid_time, self.test_time) != (None, None):
            raise HarnessError("split options valid_time/test_time need protocol='global-time'")
        for name in ("valid_time", "test_time"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise HarnessError(
                    f"split option {name}={value}: a quantile in (0, 1) or a timestamp >= 1"
                )


PROTOCOLS = ("leave-one-out", "global-time")
# the global-time cuts when none are given: quantiles of all interaction times
DEFAULT_CUTS = {"valid_time": 0.8, "test_time": 0.9}


def params_json(config: SplitConfig) -> dict[str, Any]:
    """The split parameters a split file records. A leave-one-out split records none of
    the global-time keys, so its bytes (and sha256) are those of format-2 files written
    before the protocol existed: a file without ``protocol`` is leave-one-out."""
    params = asdict(config)
    if config.protocol == "leave-one-out":
        for key in ("protocol", "valid_time", "test_time"):
            params.pop(key)
    return params


@dataclass
class Split:
    """A loaded split: training data, validation and test requests, and its identity."""

    dataset: Dataset
    config: SplitConfig
    train_ids: list[str]
    train: list[np.ndarray]
    valid: list[LabeledRequest]
    test: list[LabeledRequest]
    sha256: str
    # global-time: the resolved cuts and the users left out, with why (None: leave-one-out)
    protocol_details: dict[str, Any] | None = None

    def earlier_items(self, request: LabeledRequest) -> np.ndarray:
        """The user's whole sequence before the request's target (not only its history window)."""
        sequence = self._by_id().get(request.sequence_id)
        end = request.offset + len(request.history)
        return request.history if sequence is None else np.asarray(sequence[:end])

    def _by_id(self) -> dict[str, np.ndarray]:
        if not hasattr(self, "_sequences_by_id"):
            self._sequences_by_id = dict(zip(self.dataset.sequence_ids, self.dataset.sequences))
        return self._sequences_by_id

    def train_data(self) -> TrainData:
        by_id = self._by_id()
        whole = [by_id.get(sid, seq) for sid, seq in zip(self.train_ids, self.train)]
        return TrainData(
            self.dataset, self.train_ids, self.train, self.valid, self.config.history, whole
        )


def build_split(dataset: Dataset, config: SplitConfig) -> Split:
    """Build the split in memory (use :func:`write_split` / :func:`read_split` to persist it)."""
    details = None
    if config.protocol == "global-time":
        train_ids, train, valid, test, details = _global_time(dataset, config)
    elif dataset.kind == "users":
        train_ids, train, valid, test = _leave_one_out(dataset, config)
    else:
        train_ids, train, valid, test = _by_sequence(dataset, config)
    body = _to_json(dataset, config, train_ids, train, valid, test, details)
    return Split(dataset, config, train_ids, train, valid, test, _sha256(body), details)


def resolve_cuts(times: np.ndarray, config: SplitConfig) -> tuple[float, float]:
    """The validation and test cuts as timestamps: a value in (0, 1) is a quantile of all
    interaction times, a larger one a timestamp. Each must fall inside the data's time
    range, the validation cut first."""
    low, high = float(times.min()), float(times.max())
    cuts = []
    for name in ("valid_time", "test_time"):
        value = getattr(config, name)
        value = DEFAULT_CUTS[name] if value is None else value
        cut = float(np.quantile(times, value, method="lower")) if value < 1 else float(value)
        if not low < cut <= high:
            raise HarnessError(
                f"split option {name}={value}: cut {cut:g} is outside the data's time range "
                f"({low:g}, {high:g}]"
            )
        cuts.append(cut)
    if cuts[0] >= cuts[1]:
        raise HarnessError(
            f"split options valid_time/test_time: the validation cut ({cuts[0]:g}) must come "
            f"before the test cut ({cuts[1]:g})"
        )
    return cuts[0], cuts[1]


def _global_time(dataset: Dataset, config: SplitConfig):
    """Everything before the validation cut trains; each user's first interaction at or
    after a cut is their validation (before the test cut) or test target, with the
    history of everything before it. Users without a test target, or without any
    history before it, are skipped and counted."""
    if dataset.kind != "users" or dataset.timestamps is None:
        raise HarnessError(
            f"split option protocol='global-time' needs a per-user dataset with timestamps; "
            f"{dataset.name!r} has none"
        )
    valid_cut, test_cut = resolve_cuts(np.concatenate(dataset.timestamps), config)
    train_ids, train, test_positions, valid_positions = [], [], {}, {}
    no_test = no_history = 0
    for i, (seq, times) in enumerate(zip(dataset.sequences, dataset.timestamps)):
        before = int(np.searchsorted(times, valid_cut, side="left"))
        if before >= 1:
            train_ids.append(dataset.sequence_ids[i])
            train.append(seq[:before])
        test_at = int(np.searchsorted(times, test_cut, side="left"))
        if test_at == len(seq):
            no_test += 1
            continue
        if test_at == 0:
            no_history += 1
            continue
        test_positions[i] = test_at
        if before < test_at and before >= 1:  # a validation target with some history
            valid_positions[i] = before
    if not test_positions:
        raise HarnessError(
            f"split option test_time: no user of {dataset.name!r} has an interaction at or "
            "after the test cut with history before it; choose an earlier cut"
        )
    evaluated = _sample(sorted(test_positions), config.users, config.seed, "users")
    negatives = np.random.default_rng([config.seed, 2])
    valid, test = [], []
    for i in evaluated:
        seq, sid = dataset.sequences[i], dataset.sequence_ids[i]
        if i in valid_positions:
            valid.append(_request(dataset, sid, seq, valid_positions[i], config, negatives))
        test.append(_request(dataset, sid, seq, test_positions[i], config, negatives))
    details = {
        "valid_cut": valid_cut,
        "test_cut": test_cut,
        "users_without_test_target": no_test,
        "users_without_history_before_test": no_history,
        "evaluated_without_validation_target": len(evaluated) - len(valid),
    }
    log.info(
        "global-time split: cuts %g / %g; %d users skipped without a test target, %d without "
        "history before it",
        valid_cut,
        test_cut,
        no_test,
        no_history,
    )
    return train_ids, train, valid, test, details


def _leave_one_out(dataset: Dataset, config: SplitConfig):
    eligible = [i for i, seq in enumerate(dataset.sequences) if len(seq) >= 3]
    if not eligible:
        raise HarnessError(
            f"dataset {dataset.name!r} has no user with the 3 interactions a leave-one-out "
            "split needs (train, validation, test)"
        )
    evaluated = _sample(eligible, config.users, config.seed, "users")
    negatives = np.random.default_rng([config.seed, 2])
    valid, test = [], []
    for i in evaluated:
        seq, sid = dataset.sequences[i], dataset.sequence_ids[i]
        valid.append(_request(dataset, sid, seq, len(seq) - 2, config, negatives))
        test.append(_request(dataset, sid, seq, len(seq) - 1, config, negatives))
    train_ids = [dataset.sequence_ids[i] for i in eligible]
    train = [dataset.sequences[i][:-2] for i in eligible]
    return train_ids, train, valid, test


def _by_sequence(dataset: Dataset, config: SplitConfig):
    eligible = [i for i, seq in enumerate(dataset.sequences) if len(seq) >= 2]
    if not eligible:
        raise HarnessError(
            f"dataset {dataset.name!r} has no sequence with the 2 items a split needs "
            "(a history and a target)"
        )
    order = np.random.default_rng([config.seed, 1]).permutation(len(eligible))
    shuffled = [eligible[j] for j in order]
    n_test = min(config.users or config.test_size, len(shuffled) // 3 or 1)
    n_valid = min(config.users or config.valid_size, max(len(shuffled) - n_test, 0) // 2)
    test_idx = sorted(shuffled[:n_test])
    valid_idx = sorted(shuffled[n_test : n_test + n_valid])
    rest = shuffled[n_test + n_valid :]
    train_idx = sorted(rest if config.train_size is None else rest[: config.train_size])
    if not train_idx:
        raise HarnessError(f"dataset {dataset.name!r} is too small to leave training sequences")
    negatives = np.random.default_rng([config.seed, 2])
    valid = [
        _request(
            dataset,
            dataset.sequence_ids[i],
            dataset.sequences[i],
            len(dataset.sequences[i]) - 1,
            config,
            negatives,
        )
        for i in valid_idx
    ]
    test = [
        _request(
            dataset,
            dataset.sequence_ids[i],
            dataset.sequences[i],
            len(dataset.sequences[i]) - 1,
            config,
            negatives,
        )
        for i in test_idx
    ]
    return (
        [dataset.sequence_ids[i] for i in train_idx],
        [dataset.sequences[i] for i in train_idx],
        valid,
        test,
    )


def _sample(eligible: list[int], n: int | None, seed: int, what: str) -> list[int]:
    if n is None or n >= len(eligible):
        if n is not None and n > len(eligible):
            log.warning("asked for %d %s, only %d are eligible: using all", n, what, len(eligible))
        return eligible
    chosen = np.random.default_rng([seed, 1]).choice(len(eligible), size=n, replace=False)
    return [eligible[j] for j in sorted(chosen)]


def _request(dataset, sid, seq, position, config, rng) -> LabeledRequest:
    target = int(seq[position])
    excluded = set(seq.tolist())
    n_items = len(dataset.catalog)
    if n_items - len(excluded) < config.negatives:
        raise HarnessError(
            f"sequence {sid!r} leaves only {n_items - len(excluded)} items to sample "
            f"{config.negatives} negatives from"
        )
    chosen: list[int] = []
    taken = set(excluded)
    while len(chosen) < config.negatives:
        for item in rng.integers(0, n_items, size=2 * config.negatives).tolist():
            if item not in taken:
                taken.add(item)
                chosen.append(item)
                if len(chosen) == config.negatives:
                    break
    candidates = np.array([target, *chosen], dtype=np.int32)[rng.permutation(config.negatives + 1)]
    start = max(0, position - config.history)
    history = np.asarray(seq[start:position], dtype=np.int32)
    return LabeledRequest(sid, history, candidates, start, target=target)


# --- persistence --------------------------------------------------------------------------


def _request_json(dataset: Dataset, r: LabeledRequest) -> dict:
    ids = dataset.catalog.ids
    return {
        "id": r.sequence_id,
        "history": [ids[i] for i in r.history.tolist()],
        "candidates": [ids[i] for i in r.candidates.tolist()],
        "target": ids[r.target],
        "offset": r.offset,
    }


def _to_json(dataset, config, train_ids, train, valid, test, details=None) -> dict:
    ids = dataset.catalog.ids
    body = {
        "format": FORMAT,
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint(),
        "kind": dataset.kind,
        "params": params_json(config),
        "train": [[sid, [ids[i] for i in seq.tolist()]] for sid, seq in zip(train_ids, train)],
        "valid": [_request_json(dataset, r) for r in valid],
        "test": [_request_json(dataset, r) for r in test],
    }
    if details is not None:
        body["protocol_details"] = details
    return body


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sha256(body: dict) -> str:
    return hashlib.sha256(_canonical(body)).hexdigest()


def split_key(dataset: Dataset, config: SplitConfig) -> str:
    """Cache key of a split: the data it is built from and its parameters."""
    text = json.dumps([FORMAT, dataset.name, dataset.fingerprint(), asdict(config)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def write_split(split: Split, path: Path) -> None:
    """Write the split atomically; the file holds its own sha256."""
    body = _to_json(
        split.dataset,
        split.config,
        split.train_ids,
        split.train,
        split.valid,
        split.test,
        split.protocol_details,
    )
    payload = _canonical({**body, "sha256": split.sha256})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".split-", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        handle.write(payload[: len(payload) // 2])
        handle.flush()
        kill_point("split-write")
        handle.write(payload[len(payload) // 2 :])
    os.replace(tmp, path)


def read_split(path: Path, dataset: Dataset) -> Split:
    """Read a split file, check its hash and that it belongs to ``dataset``."""
    try:
        data = json.loads(Path(path).read_bytes())
    except (OSError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read split file: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise HarnessError(f"{path}: not a {FORMAT} split file")
    sha = data.pop("sha256", None)
    if sha != _sha256(data):
        raise HarnessError(f"{path}: split file is corrupt (sha256 mismatch)")
    if data["dataset_fingerprint"] != dataset.fingerprint():
        raise HarnessError(f"{path}: split was built from different data than {dataset.name!r}")
    catalog = dataset.catalog

    def items(ids: list[str]) -> np.ndarray:
        return np.array([catalog.index(i) for i in ids], dtype=np.int32)

    def request(r: dict) -> LabeledRequest:
        return LabeledRequest(
            r["id"],
            items(r["history"]),
            items(r["candidates"]),
            int(r["offset"]),
            target=int(catalog.index(r["target"])),
        )

    config = SplitConfig(**data["params"])
    return Split(
        dataset,
        config,
        [sid for sid, _ in data["train"]],
        [items(seq) for _, seq in data["train"]],
        [request(r) for r in data["valid"]],
        [request(r) for r in data["test"]],
        sha,
        data.get("protocol_details"),
    )
