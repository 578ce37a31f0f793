"""Fan the rows of one experiment out as Ray tasks; the row checkpoint is the unit of work.

Each task evaluates one row on its own (the same split, from the shared
cache) and leaves that row's checkpoint in the cache; the driver then runs
the whole experiment, which reads every finished row back and assembles the
board exactly as a serial run would. A row whose task was lost or failed is
simply computed by the driver, so a rerun after a lost worker finishes only
what is missing. On a cluster the cache folder must be shared by every node.
Ray is an optional extra: ``pip install llmrec-harness[ray]``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.orchestration.experiment import Experiment, experiment_dict, experiment_from_dict

log = logging.getLogger(__name__)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise HarnessError("--executor ray needs Ray: pip install 'llmrec-harness[ray]'") from None
    return ray


def _one_row(recorded: dict[str, Any], index: int, cache_dir: str, fresh: bool) -> str:
    """Evaluate row ``index`` alone, so that its checkpoint lands in the shared cache."""
    from harness.orchestration.runner import evaluate

    experiment = experiment_from_dict(recorded)
    experiment.runs = [experiment.runs[index]]
    with tempfile.TemporaryDirectory(prefix="harness-ray-row-") as scratch:
        results = evaluate(
            experiment,
            Path(scratch) / "row",
            cache_dir=Path(cache_dir),
            progress=False,
            fresh=fresh,
        )
    failed = results["failed_runs"]
    return failed[0]["error"] if failed else ""


def gpus_for(device: str) -> float:
    """A row on ``cuda``/``cuda:N`` asks Ray for one GPU; every other row for none."""
    return 1.0 if device.startswith("cuda") else 0.0


def run_rows_on_ray(
    experiments: list[Experiment],
    cache_dir: Path,
    address: str | None = None,
    fresh: bool = False,
    num_cpus: int | None = None,
) -> list[str]:
    """Compute every row of every experiment (one per seed, say) as a Ray task; the rows'
    errors. Each task leaves its row checkpoint in the shared cache."""
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=address,
            num_cpus=None if address else num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        remote = ray.remote(_one_row)
        tasks, names = [], []
        for experiment in experiments:
            recorded = experiment_dict(experiment)
            for index, run in enumerate(experiment.runs):
                options = remote.options(num_cpus=1, num_gpus=gpus_for(experiment.device))
                tasks.append(options.remote(recorded, index, str(cache_dir), fresh))
                names.append(f"{run.name or run.recommender} (seed {experiment.split.seed})")
        log.info("ray: %d rows as tasks on %s", len(tasks), address or "a local Ray")
        errors = []
        for task, name in zip(tasks, names):
            try:
                error = ray.get(task)
            except Exception as exc:  # a lost worker: the driver computes the row itself
                error = f"ray task lost: {type(exc).__name__}: {exc}".splitlines()[0]
            if error:
                errors.append(f"{name}: {error}")
        return errors
    finally:
        if started_here:
            ray.shutdown()


def _fan_out(experiments: list[Experiment], address, num_cpus, evaluate_kwargs) -> Path:
    """Every usage error first, then the rows as tasks; the cache folder they share."""
    from harness.orchestration.runner import prepare_runs
    from harness.paths import cache_root
    from harness.plugins import default_registry

    prepare_runs(experiments[0].runs, default_registry())  # every usage error before any task
    cache_dir = cache_root(evaluate_kwargs.pop("cache_dir", None))
    fresh = evaluate_kwargs.pop("fresh", False)
    # tasks sharing the cache may build the split at once: its write is atomic
    for error in run_rows_on_ray(experiments, cache_dir, address, fresh, num_cpus):
        log.warning("%s (the driver retries the row)", error)
    return cache_dir


def evaluate_on_ray(
    experiment: Experiment,
    out_dir: Path,
    address: str | None = None,
    num_cpus: int | None = None,
    **evaluate_kwargs: Any,
) -> dict[str, Any]:
    """Rows as Ray tasks, then the board assembled by the driver from their checkpoints."""
    from harness.orchestration.runner import evaluate

    cache_dir = _fan_out([experiment], address, num_cpus, evaluate_kwargs)
    return evaluate(experiment, out_dir, cache_dir=cache_dir, **evaluate_kwargs)


def evaluate_seeds_on_ray(
    experiment: Experiment,
    out_dir: Path,
    seeds: list[int],
    address: str | None = None,
    num_cpus: int | None = None,
    **evaluate_kwargs: Any,
) -> dict[str, Any]:
    """Every (seed, row) as a Ray task at once, then each seed's board and the spread."""
    from harness.orchestration.seeds import evaluate_seeds, seeded

    cache_dir = _fan_out([seeded(experiment, s) for s in seeds], address, num_cpus, evaluate_kwargs)
    return evaluate_seeds(experiment, out_dir, seeds, cache_dir=cache_dir, **evaluate_kwargs)
