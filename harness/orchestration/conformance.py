"""``harness check-plugin``: run a registered component against its contract on a small sample.

Each check is a name and a verdict with a one-line reason, so a plugin author
sees which promise the plugin breaks. The checks use the same entry points as
``harness evaluate`` (registry, option parsing, the runner's answer-free
requests), never a private path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.data.context import DatasetContext
from harness.dataset import Dataset
from harness.errors import HarnessError
from harness.options import build_options, options_dict
from harness.plugins import Registration
from harness.recommender import RunContext
from harness.splits import SplitConfig, build_split
from harness.summarizer import checked_summaries

SAMPLE_HISTORIES = 6


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        return f"{mark} {self.name}" + (f": {self.detail}" if self.detail else "")


def _run(name: str, step: Callable[[], str | None]) -> Check:
    """One check: ``step`` returns an optional detail, or raises to fail."""
    try:
        return Check(name, True, step() or "")
    except Exception as exc:  # a conformance check reports, it does not crash
        return Check(name, False, f"{type(exc).__name__}: {exc}".splitlines()[0])


def options_round_trip(reg: Registration, raw: dict[str, Any]) -> Check:
    def step() -> str:
        options = build_options(reg.options, raw, f"{reg.kind[:-1]} {reg.name!r}")
        again = build_options(reg.options, options_dict(options), reg.name)
        if again != options:
            raise AssertionError(f"{options!r} came back as {again!r}")
        if reg.options is not None:
            try:
                build_options(reg.options, {"no_such_option_": "1"}, reg.name)
            except HarnessError:
                return "written out and read back equal; an unknown option is refused"
            raise AssertionError("an unknown option was accepted")
        return "takes no options"

    return _run("options round-trip", step)


def check_recommender(
    reg: Registration, raw: dict[str, Any], dataset: Dataset, users: int, seed: int, cache_dir
) -> list[Check]:
    """Fit and score twice on a sample split: shapes, finite scores, same scores under the
    same seed. The requests handed to ``score()`` are the runner's answer-free ones."""
    checks = [options_round_trip(reg, raw)]
    if not checks[0].ok:
        return checks
    split = build_split(dataset, SplitConfig(seed=seed, users=users, negatives=10))
    requests = [r.unlabeled() for r in split.test]
    shape = (len(requests), len(requests[0].candidates))
    runs: list[np.ndarray] = []

    def fit_and_score() -> np.ndarray:
        options = build_options(reg.options, raw, reg.name)
        recommender = reg.factory(options)
        context = RunContext(seed=seed, cache_dir=cache_dir, progress=False)
        recommender.fit(split.train_data(), context)
        scores = np.asarray(recommender.score(requests, context), dtype=np.float64)
        runs.append(scores)
        _catalog_check(recommender, requests, context, len(dataset.catalog))
        return scores

    def first() -> str:
        scores = fit_and_score()
        if scores.shape != shape:
            raise AssertionError(f"shape {scores.shape}, expected {shape}")
        if not np.isfinite(scores).all():
            raise AssertionError("NaN or infinite scores")
        return f"{shape[0]} requests x {shape[1]} candidates, all finite"

    checks.append(_run("fit and score (requests carry no target)", first))
    if not checks[-1].ok:
        return checks

    def repeat() -> str:
        again = fit_and_score()
        if not np.allclose(runs[0], again, rtol=1e-5, atol=1e-6):
            worst = float(np.max(np.abs(runs[0] - again)))
            raise AssertionError(f"a second run with seed {seed} differs by up to {worst:.3g}")
        return f"a second fit with seed {seed} gives the same scores"

    checks.append(_run("same scores under the same seed", repeat))
    return checks


def _catalog_check(recommender, requests, context, n_items: int) -> None:
    scorer = getattr(recommender, "score_catalog", None)
    if scorer is None:
        return
    full = scorer(requests, context)
    if full is not None and np.asarray(full).shape != (len(requests), n_items):
        raise AssertionError(f"score_catalog shape {np.asarray(full).shape}")


def check_summarizer(
    reg: Registration, raw: dict[str, Any], dataset: Dataset, cache_dir
) -> list[Check]:
    """One summary string per history (an empty history included), twice the same."""
    checks = [options_round_trip(reg, raw)]
    if not checks[0].ok:
        return checks
    texts = [dataset.catalog.texts(s[:7]) for s in dataset.sequences[: SAMPLE_HISTORIES - 1]]
    histories = [*texts, []]
    outputs: list[list[str]] = []

    def once() -> str:
        summarizer = reg.factory(build_options(reg.options, raw, reg.name))
        context = RunContext(cache_dir=cache_dir, progress=False)
        out = summarizer.summarize(histories, context, dataset.domain)
        outputs.append(checked_summaries(out, histories, reg.name))  # the runner's own check
        return f"{len(out)} strings for {len(histories)} histories (one of them empty)"

    checks.append(_run("one summary per history", once))
    if checks[-1].ok:

        def again() -> str:
            once()
            if outputs[0] != outputs[1]:
                raise AssertionError("a second call gave different summaries")
            return "a second call gives the same summaries"

        checks.append(_run("same summaries for the same histories", again))
    return checks


def check_dataset(reg: Registration, raw: dict[str, Any], context: DatasetContext) -> list[Check]:
    """Loads into a Dataset; ids unique; sequences of valid item indices; loads the same twice."""
    checks = [options_round_trip(reg, raw)]
    if not checks[0].ok:
        return checks
    loaded: list[Dataset] = []

    def load() -> str:
        dataset = reg.factory(build_options(reg.options, raw, reg.name), context)
        if not isinstance(dataset, Dataset):
            raise AssertionError(f"returned {type(dataset).__name__}, not a Dataset")
        loaded.append(dataset)
        return (
            f"{len(dataset.sequences)} sequences, {len(dataset.catalog)} items, "
            f"domain {dataset.domain!r}"
        )

    checks.append(_run("loads a Dataset", load))
    if not loaded:
        return checks
    dataset = loaded[0]

    def ids() -> str:
        if len(set(dataset.sequence_ids)) != len(dataset.sequence_ids):
            raise AssertionError("repeated sequence ids")
        if len(set(dataset.catalog.ids)) != len(dataset.catalog):
            raise AssertionError("repeated item ids")
        return "sequence and item ids unique"

    def ranges() -> str:
        n = len(dataset.catalog)
        for sid, seq in zip(dataset.sequence_ids, dataset.sequences):
            if len(seq) == 0:
                raise AssertionError(f"sequence {sid!r} is empty")
            if seq.min() < 0 or seq.max() >= n:
                raise AssertionError(f"sequence {sid!r} holds an item index outside [0, {n})")
        if not all(isinstance(t, str) for t in dataset.catalog.texts(range(min(n, 100)))):
            raise AssertionError("an item text is not a string")
        return f"every item index in [0, {n}); item texts are strings"

    def same() -> str:
        load()
        if loaded[1].fingerprint() != dataset.fingerprint():
            raise AssertionError("a second load gave different data")
        return "a second load has the same fingerprint"

    checks += [
        _run("ids unique", ids),
        _run("sequences in range", ranges),
        _run("same data when loaded again", same),
    ]
    return checks
