"""An experiment: one dataset, one split, several named runs. From the CLI or a TOML file.

```toml
dataset = "ml-100k"
[split]
seed = 0
users = 200
[[runs]]
recommender = "popularity"
[[runs]]
name = "sasrec (bce)"
recommender = "sasrec"
options = { loss = "bce", epochs = 50 }
[[runs]]
recommender = "truncated-llm"
sweep = { max_prompt_tokens = [128, 256, 512] }   # one run per value
```
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.options import build_options, parse_spec
from harness.splits import SplitConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class RunSpec:
    """One leaderboard row: a recommender name, its options and an optional row name.

    ``rerank`` (a recommender spec) and ``rerank_k`` are the harness's own keys,
    taken out of the options wherever they are written (``NAME[rerank=sasrec]``,
    ``options = { rerank = "sasrec" }`` or the run's table): the row then
    reranks that retriever's top ``rerank_k`` of the catalog for its
    full-ranking metrics (:func:`harness.orchestration.runner.run_one`).
    """

    recommender: str
    options: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    rerank: str | None = None
    rerank_k: int = 20

    def __post_init__(self) -> None:
        options = dict(self.options)
        rerank = options.pop("rerank", self.rerank)
        k = options.pop("rerank_k", self.rerank_k)
        try:
            k = int(k)
        except (TypeError, ValueError):
            raise HarnessError(f"rerank_k must be an integer, got {k!r}") from None
        if k < 1:
            raise HarnessError(f"rerank_k must be at least 1, got {k}")
        object.__setattr__(self, "options", options)  # the dataclass is frozen
        object.__setattr__(self, "rerank", None if rerank is None else str(rerank))
        object.__setattr__(self, "rerank_k", k)

    @classmethod
    def from_spec(cls, spec: str) -> RunSpec:
        name, options = parse_spec(spec)
        return cls(name, options)

    def default_name(self) -> str:
        if not self.options:
            return self.recommender
        inner = ",".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.recommender}[{inner}]"


@dataclass
class Experiment:
    dataset: str = "ml-100k"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    data_dir: Path | None = None
    split: SplitConfig = field(default_factory=SplitConfig)
    runs: list[RunSpec] = field(default_factory=list)
    device: str = "auto"


_TOP_KEYS = {"dataset", "dataset_options", "data_dir", "split", "runs", "device"}
_RUN_KEYS = {"recommender", "options", "name", "sweep", "rerank", "rerank_k"}


def _expand_sweep(path: Path, number: int, run: dict) -> list[RunSpec]:
    """``sweep = { max_prompt_tokens = [128, 256] }`` makes one run per value (one key)."""
    options = dict(run.get("options", {}))
    sweep = run.get("sweep")
    for key in ("rerank", "rerank_k"):
        if key in run:
            options[key] = run[key]
    if not sweep:
        return [RunSpec(run["recommender"], options, run.get("name"))]
    if not isinstance(sweep, dict) or len(sweep) != 1:
        raise HarnessError(f"{path}: [[runs]] entry {number}: sweep takes exactly one key")
    ((key, values),) = sweep.items()
    if not isinstance(values, list) or not values:
        raise HarnessError(f"{path}: [[runs]] entry {number}: sweep.{key} must be a list")
    base = run.get("name")
    return [
        RunSpec(
            run["recommender"],
            {**options, key: value},
            f"{base} ({key}={value})" if base else None,
        )
        for value in values
    ]


def load_experiment(path: Path) -> Experiment:
    """Parse an experiment TOML file; every unknown key is an error naming the file."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"{path}: experiment file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: invalid TOML: {exc}") from None
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise HarnessError(
            f"{path}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(sorted(_TOP_KEYS))}"
        )
    split_fields = {f.name for f in dataclasses.fields(SplitConfig)}
    split_raw = data.get("split", {})
    bad = set(split_raw) - split_fields
    if bad:
        raise HarnessError(
            f"{path}: unknown [split] key(s) {', '.join(sorted(bad))}; "
            f"valid: {', '.join(sorted(split_fields))}"
        )
    runs = []
    for number, run in enumerate(data.get("runs", []), start=1):
        if not isinstance(run, dict) or "recommender" not in run:
            raise HarnessError(f"{path}: [[runs]] entry {number} needs a 'recommender' key")
        extra = set(run) - _RUN_KEYS
        if extra:
            raise HarnessError(
                f"{path}: [[runs]] entry {number} has unknown key(s) {', '.join(sorted(extra))}"
            )
        runs.extend(_expand_sweep(path, number, run))
    if not runs:
        raise HarnessError(f"{path}: no [[runs]] entries")
    data_dir = data.get("data_dir")
    if data_dir is not None:
        data_dir = (Path(path).parent / data_dir).resolve()
    try:
        split = build_options(SplitConfig, split_raw, f"{path} [split]")
    except HarnessError as exc:  # SplitConfig's own checks name the option, not the file
        raise HarnessError(exc if str(path) in str(exc) else f"{path} [split]: {exc}") from None
    return Experiment(
        dataset=data.get("dataset", "ml-100k"),
        dataset_options=dict(data.get("dataset_options", {})),
        data_dir=data_dir,
        split=split,
        runs=runs,
        device=data.get("device", "auto"),
    )


def with_overrides(
    experiment: Experiment,
    dataset_spec: str | None = None,
    data_dir: Path | None = None,
    device: str | None = None,
    **split: Any,
) -> Experiment:
    """``experiment`` with what was given replaced: the command line's flags over a file's
    values (``dataset_spec`` is ``NAME[key=value,...]``; ``split`` holds SplitConfig
    fields, None meaning "not given")."""
    experiment = dataclasses.replace(experiment)
    if dataset_spec is not None:
        experiment.dataset, experiment.dataset_options = parse_spec(dataset_spec)
    if data_dir is not None:
        experiment.data_dir = data_dir
    if device is not None:
        experiment.device = device
    changed = {key: value for key, value in split.items() if value is not None}
    if changed:
        experiment.split = dataclasses.replace(experiment.split, **changed)
    return experiment


def experiment_dict(experiment: Experiment) -> dict[str, Any]:
    """The resolved experiment as JSON-ready data (results.json records it)."""
    data = dataclasses.asdict(experiment)
    data["data_dir"] = None if experiment.data_dir is None else str(experiment.data_dir)
    for run in data["runs"]:  # a run that reranks nothing records no rerank keys
        if run["rerank"] is None:
            del run["rerank"], run["rerank_k"]
    return data


def experiment_from_dict(data: dict[str, Any]) -> Experiment:
    """The inverse of :func:`experiment_dict`: the experiment a board recorded."""
    return Experiment(
        dataset=data["dataset"],
        dataset_options=dict(data.get("dataset_options") or {}),
        data_dir=Path(data["data_dir"]) if data.get("data_dir") else None,
        split=SplitConfig(**data["split"]),
        runs=[
            RunSpec(
                r["recommender"],
                dict(r.get("options") or {}),
                r.get("name"),
                r.get("rerank"),
                r.get("rerank_k", 20),
            )
            for r in data["runs"]
        ],
        device=data.get("device", "auto"),
    )
