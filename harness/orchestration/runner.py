"""evaluate(): build or reuse the split, fit and score every recommender on it, write results.

The output folder is assembled in a temporary sibling and renamed into place
at the end, so a failed run never leaves a half-written folder.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness import __version__, data_parallel
from harness.atomic import publish_folder
from harness.costs import PeakMemory, Stopwatch, release_freed_memory
from harness.data.context import DatasetContext
from harness.dataset import Dataset
from harness.errors import HarnessError, PluginError, plugin_errors
from harness.faults import kill_point
from harness.llm.devices import check_device
from harness.metrics import (
    CHANCE_METRICS,
    HEADLINE,
    all_pairs,
    candidate_metrics,
    catalog_ranking,
    chance_level,
    chance_test,
    full_ranking_metrics,
    holm,
    mean_with_ci,
    paired_test,
    position_diagnostics,
    sampled_runs,
)
from harness.options import build_options, key_options, options_dict
from harness.orchestration import checkpoints
from harness.orchestration.experiment import Experiment, RunSpec, experiment_dict
from harness.orchestration.provenance import library_versions, provenance
from harness.orchestration.records import RECORDS, compact, write_row_records, write_summaries
from harness.orchestration.row_scores import TOP_ITEMS, write_row_scores
from harness.paths import cache_root, splits_dir
from harness.plugins import Registry, default_registry, using_registry
from harness.recommender import Capabilities, Recommender, Request, RunContext
from harness.splits import Split, build_split, read_split, split_key, write_split

log = logging.getLogger(__name__)


def load_dataset(
    name: str, options: dict[str, Any], context: DatasetContext, registry: Registry
) -> Dataset:
    """Instantiate a registered dataset loader with validated options."""
    reg = registry.get("datasets", name)
    opts = build_options(reg.options, options, f"dataset {name!r}")
    log.info("loading dataset %s", name)
    with plugin_errors(f"dataset {name!r} ({reg.plugin}) failed to load"):
        dataset = reg.factory(opts, context)
    if not isinstance(dataset, Dataset):
        raise PluginError(
            f"dataset {name!r} ({reg.plugin}) returned {type(dataset).__name__}, not a Dataset"
        )
    return dataset


def prepare_split(dataset: Dataset, experiment: Experiment, cache_dir: Path) -> Path:
    """Path of the persisted split, built once per (data, parameters) and reused after."""
    path = splits_dir(cache_dir) / f"{dataset.name}-{split_key(dataset, experiment.split)}.json"
    if path.exists():
        log.info("reusing split %s", path)
        return path
    log.info("building split of %s", dataset.name)
    write_split(build_split(dataset, experiment.split), path)
    return path


@dataclass
class PreparedRun:
    spec: RunSpec
    name: str
    plugin: str
    options: Any
    recommender: Any
    retriever: PreparedRun | None = None  # the row reranks this one's top rerank_k


def scores_catalog(recommender: Any) -> bool:
    """Whether a recommender implements ``score_catalog`` (the base class's returns None)."""
    method = getattr(type(recommender), "score_catalog", None)
    return method is not None and method is not Recommender.score_catalog


def _prepare_retriever(spec: RunSpec, registry: Registry) -> PreparedRun:
    """The retriever a row reranks, validated before any row starts."""
    where = f"rerank={spec.rerank!r}"
    try:
        inner = RunSpec.from_spec(spec.rerank)
        if inner.rerank is not None:
            raise HarnessError("a retriever cannot itself rerank")
        retriever = prepare_runs([inner], registry)[0]
    except HarnessError as exc:
        raise HarnessError(f"{where}: {exc}") from None
    if not scores_catalog(retriever.recommender):
        raise HarnessError(
            f"{where}: {retriever.name!r} cannot score the whole catalog (no score_catalog); "
            "choose a retriever that can, e.g. sasrec or popularity"
        )
    return retriever


def prepare_runs(runs: list[RunSpec], registry: Registry) -> list[PreparedRun]:
    """Validate every run's options before any training starts; row names must be distinct."""
    prepared, names = [], set()
    for spec in runs:
        reg = registry.get("recommenders", spec.recommender)
        opts = build_options(reg.options, spec.options, f"recommender {spec.recommender!r}")
        failed = f"recommender {spec.recommender!r} ({reg.plugin}) failed to initialise"
        with plugin_errors(failed), using_registry(registry):
            recommender = reg.factory(opts)
        retriever = _prepare_retriever(spec, registry) if spec.rerank is not None else None
        name = spec.name or getattr(recommender, "row_name", None) or spec.default_name()
        if retriever is not None and not spec.name:
            name += f" [reranks {retriever.name} top {spec.rerank_k}]"
        if name in names:
            raise HarnessError(f"two runs are named {name!r}; give them distinct 'name' values")
        names.add(name)
        prepared.append(PreparedRun(spec, name, reg.plugin, opts, recommender, retriever))
    if not prepared:
        raise HarnessError("no recommender given; use --recommender NAME (see `harness plugins`)")
    return prepared


def _check_scores(scores: Any, shape: tuple[int, int], name: str, what: str) -> np.ndarray:
    array = np.asarray(scores, dtype=np.float64)
    if array.shape != shape:
        raise PluginError(
            f"recommender {name!r} returned {what} of shape {array.shape}, expected {shape}"
        )
    if not np.isfinite(array).all():
        row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise PluginError(f"recommender {name!r} returned NaN or infinite {what} (request {row})")
    return array


def run_one(run: PreparedRun, split: Split, context: RunContext) -> dict[str, Any]:
    """Fit and score one recommender; returns its result record and per-request arrays.

    The recommender scores the test requests without their targets; the
    answers stay here, for the metrics.
    """
    test = split.test
    questions = [r.unlabeled() for r in test]
    rec = run.recommender
    with PeakMemory() as memory:
        with Stopwatch() as fit_time, plugin_errors(f"recommender {run.name!r} failed during fit"):
            kill_point(f"fit:{run.name}")
            rec.fit(split.train_data(), context)
        with (
            Stopwatch() as score_time,
            plugin_errors(f"recommender {run.name!r} failed during scoring"),
        ):
            raw = data_parallel.sharded(lambda part: rec.score(part, context), questions)
            kill_point(f"score:{run.name}")
        scores = _check_scores(
            raw, (len(test), len(test[0].candidates)), run.name, "candidate scores"
        )
        full, rerank, catalog_scores = None, None, None
        if run.retriever is not None:
            catalog_scores, rerank = reranked_catalog(run, split, questions, context)
        elif hasattr(rec, "score_catalog"):
            with plugin_errors(f"recommender {run.name!r} failed during full ranking"):
                catalog_scores = data_parallel.sharded(
                    lambda part: rec.score_catalog(part, context), questions
                )
            if catalog_scores is not None:
                catalog_scores = _check_scores(
                    catalog_scores,
                    (len(test), len(split.dataset.catalog)),
                    run.name,
                    "catalog scores",
                )
        if catalog_scores is not None:
            ranks, top_items = catalog_ranking(
                catalog_scores,
                np.array([r.target for r in test]),
                [split.earlier_items(r) for r in test],
                top=TOP_ITEMS,
            )
            full = {"target_rank": ranks, "top_items": top_items}
    positives = np.array([r.positive_index for r in test])
    per_request = candidate_metrics(scores, positives)
    costs = {
        "fit_s": fit_time.seconds,
        "score_s": score_time.seconds,
        "score_s_per_1k": score_time.seconds * 1000 / len(test),
        "peak_rss_mb": memory.peak_rss_mb,
    }
    if memory.peak_cuda:
        costs["peak_cuda_mb"] = memory.peak_cuda / 2**20
    costs.update(context.costs)
    return {
        "scores": scores,
        "per_request": per_request,
        "full": full,
        "costs": costs,
        "training": context.training,
        "rerank": rerank,
    }


def top_k_excluding(scores: np.ndarray, earlier: list[np.ndarray], k: int) -> np.ndarray:
    """Per request, the ``k`` best-scored items outside its earlier sequence, best first
    (ties: the lower item index first, so the list is deterministic)."""
    masked = scores.astype(np.float64, copy=True)
    for row, items in enumerate(earlier):
        masked[row, items] = -np.inf
    return np.argsort(-masked, axis=1, kind="stable")[:, :k]


def reorder_top(scores: np.ndarray, top: np.ndarray, ranker: np.ndarray) -> np.ndarray:
    """The retriever's catalog scores with each request's ``top`` items lifted above all
    others in the ranker's order (ties keep the retriever's order)."""
    out = scores.astype(np.float64, copy=True)
    k = top.shape[1]
    for row in range(len(out)):
        order = np.lexsort((np.arange(k), -ranker[row]))  # ranker first, then retriever rank
        out[row, top[row][order]] = out[row].max() + 1 + np.arange(k, 0, -1)
    return out


def reranked_catalog(
    run: PreparedRun, split: Split, questions: list, context: RunContext
) -> tuple[np.ndarray, dict[str, Any]]:
    """Full ranking by reranking: the retriever fits and scores the catalog, the row scores
    its top ``rerank_k`` (the user's earlier sequence excluded) as candidates, and those are
    reordered on top of the retriever's ranking. Returns the catalog scores and the record
    of what was reranked, with the retriever's recall@k (the ceiling of the row's)."""
    retriever, k = run.retriever, run.spec.rerank_k
    inner = RunContext(
        seed=context.seed, device=context.device, cache_dir=context.cache_dir, progress=False
    )
    n_items = len(split.dataset.catalog)
    with Stopwatch() as fit_time:
        with plugin_errors(f"retriever {retriever.name!r} failed during fit"):
            retriever.recommender.fit(split.train_data(), inner)
        with plugin_errors(f"retriever {retriever.name!r} failed during full ranking"):
            raw = data_parallel.sharded(
                lambda part: retriever.recommender.score_catalog(part, inner), questions
            )
    retriever.recommender = None  # its catalog scores are all the row needs
    catalog = _check_scores(raw, (len(questions), n_items), retriever.name, "catalog scores")
    top = top_k_excluding(catalog, [split.earlier_items(r) for r in split.test], k)
    lists = [
        Request(q.sequence_id, q.history, top[row], q.offset) for row, q in enumerate(questions)
    ]
    # its own work folder: the first pass's resumable batches are keyed by request index
    work = context.work_dir / "rerank" if context.work_dir is not None else None
    again = RunContext(
        seed=context.seed,
        device=context.device,
        cache_dir=context.cache_dir,
        work_dir=work,
        progress=context.progress,
    )
    failed = f"recommender {run.name!r} failed reranking"
    with Stopwatch() as rerank_time, plugin_errors(failed):
        raw = data_parallel.sharded(lambda part: run.recommender.score(part, again), lists)
    ranker = _check_scores(raw, (len(questions), k), run.name, "rerank scores")
    targets = np.array([r.target for r in split.test])
    record = {
        "retriever": run.spec.rerank,
        "retriever_name": retriever.name,
        "k": k,
        "retriever_recall_at_k": float(np.mean([t in row for t, row in zip(targets, top)])),
        "retriever_s": fit_time.seconds,
        "rerank_score_s": rerank_time.seconds,
    }
    return reorder_top(catalog, top, ranker), record


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "run"


@dataclass
class RunPlan:
    """One evaluation, resolved before any row starts: the rows, the data, the split, and
    how to run them. Everything a row needs but its own recommender."""

    experiment: Experiment
    runs: list[PreparedRun]
    dataset: Dataset
    split: Split
    split_path: Path
    cache_dir: Path
    progress: bool = True
    fresh: bool = False
    fail_fast: bool = False


@dataclass
class _Finished:
    """What the rows leave for the board as they finish, in row order."""

    records: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    per_request: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    target_ranks: dict[str, np.ndarray] = field(default_factory=dict)
    summaries: dict[str, str] = field(default_factory=dict)  # stored once per board
    reused: int = 0


def plan_evaluation(
    experiment: Experiment,
    cache_dir: Path | None = None,
    registry: Registry | None = None,
    progress: bool = True,
    fresh: bool = False,
    fail_fast: bool = False,
) -> RunPlan:
    """Validate every row, load the dataset and build (or reuse) the split."""
    try:  # a misspelt device fails here, not inside the first row that loads a model
        check_device(experiment.device)
    except ValueError as exc:
        raise HarnessError(str(exc)) from None
    registry = registry or default_registry()
    cache_dir = cache_root(cache_dir)
    runs = prepare_runs(experiment.runs, registry)
    dataset = load_dataset(
        experiment.dataset,
        experiment.dataset_options,
        DatasetContext(
            experiment.data_dir, cache_dir, seed=experiment.split.seed, progress=progress
        ),
        registry,
    )
    for run in runs:  # before the first row starts
        if run.retriever is not None and run.spec.rerank_k > len(dataset.catalog):
            raise HarnessError(
                f"rerank_k={run.spec.rerank_k} is above the catalog's {len(dataset.catalog)} "
                f"items (row {run.name!r})"
            )
    split_path = prepare_split(dataset, experiment, cache_dir)
    split = read_split(split_path, dataset)
    if not split.test:
        raise HarnessError(f"dataset {dataset.name!r} gave no test requests")
    return RunPlan(
        experiment, runs, dataset, split, split_path, cache_dir, progress, fresh, fail_fast
    )


def evaluate(
    experiment: Experiment,
    out_dir: Path,
    cache_dir: Path | None = None,
    registry: Registry | None = None,
    progress: bool = True,
    fresh: bool = False,
    fail_fast: bool = False,
    experiment_file: Path | None = None,
    views: Callable[[dict[str, Any], Path], None] | None = None,
) -> dict[str, Any]:
    """Run the experiment and write ``out_dir`` (results.json, split.json, scores/, records/).

    ``views(results, folder)`` adds what readers see (the layer above passes
    :func:`harness.boards.views.write_views`: leaderboard.md, plots) to the
    folder before it is published, so a board appears whole or not at all.

    Each finished row is checkpointed at once (:mod:`harness.orchestration.checkpoints`); a
    rerun reads finished rows back unless ``fresh``. A row that raises is
    recorded under ``failed_runs`` (its traceback in its run folder) and the
    other rows go on, unless ``fail_fast``: then the first failure ends the
    run with no output folder.
    """
    plan = plan_evaluation(experiment, cache_dir, registry, progress, fresh, fail_fast)
    here = data_parallel.start(experiment.device)
    out_dir = Path(out_dir)
    if not here.main:  # the other ranks help with the rows; rank 0 writes the board
        with tempfile.TemporaryDirectory(prefix="harness-rank-") as scratch:
            return run_rows(dataclasses.replace(plan, progress=False), Path(scratch))
    with publish_folder(out_dir, kill_at="rename") as tmp:
        results = run_rows(plan, tmp)
        if experiment_file is not None:
            shutil.copyfile(experiment_file, tmp / "experiment.toml")
        if views is not None:
            views(results, tmp)
        if out_dir.exists():
            log.info("replacing %s", out_dir)
    return results


def run_rows(plan: RunPlan, board: Path) -> dict[str, Any]:
    """Run every row of ``plan`` into the folder ``board`` (split, scores, records,
    results.json) and return the results."""
    # read once, before any row: the checkout may move on while a long run goes, and the
    # code that runs is what was there when it started
    made = provenance()
    shutil.copyfile(plan.split_path, board / "split.json")
    (board / "scores").mkdir()
    finished = _Finished()
    for number, run in enumerate(plan.runs, start=1):
        log.info("[%d/%d] %s", number, len(plan.runs), run.name)
        _run_row(plan, run, board, made["commit"], finished)
    if finished.reused:
        log.info(
            "reused %d of %d rows from their checkpoints (--fresh recomputes them)",
            finished.reused,
            len(plan.runs),
        )
    if not finished.records:
        raise PluginError(f"every row failed; the first: {finished.failed[0]['error']}")
    if (board / "runs").exists() and not any((board / "runs").iterdir()):
        (board / "runs").rmdir()
    if finished.summaries:
        write_summaries(board / RECORDS, finished.summaries)
    results = _results(plan, made, finished)
    (board / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


def _row_key(plan: RunPlan, run: PreparedRun) -> str:
    """The row's checkpoint key: split, recommender, result-bearing options, plugin, device."""
    keyed = key_options(run.options)
    if run.retriever is not None:  # a reranking row is another row than its plain self
        keyed = {
            **keyed,
            "rerank": {
                "recommender": run.retriever.spec.recommender,
                "options": key_options(run.retriever.options),
                "plugin": run.retriever.plugin,
                "k": run.spec.rerank_k,
            },
        }
    return checkpoints.row_key(
        plan.split.sha256, run.spec.recommender, keyed, run.plugin, plan.experiment.device
    )


def _run_row(
    plan: RunPlan, run: PreparedRun, board: Path, commit: str | None, finished: _Finished
) -> None:
    """One row, computed or read back from its checkpoint: its scores file, prompt records
    and result record, or its failure record (re-raised under ``fail_fast``)."""
    run_dir = board / "runs" / _slug(run.name)
    run_dir.mkdir(parents=True)
    key = _row_key(plan, run)
    tolerance = float(getattr(run.recommender, "reproducible_within", 0.0))
    declared = getattr(run.recommender, "capabilities", None)  # a plugin may duck-type
    capabilities = dataclasses.asdict(declared() if declared else Capabilities())
    outcome = None if plan.fresh else checkpoints.load(plan.cache_dir, key, run_dir)
    from_checkpoint = outcome is not None
    if from_checkpoint:
        finished.reused += 1
        log.info("reused the checkpoint of %s", run.name)
    work = None if from_checkpoint else checkpoints.work_dir(plan.cache_dir, key)
    if plan.fresh and work is not None:
        shutil.rmtree(work, ignore_errors=True)
    context = RunContext(
        seed=plan.experiment.split.seed,
        device=data_parallel.local_device(plan.experiment.device),
        cache_dir=plan.cache_dir,
        run_dir=None if from_checkpoint else run_dir,
        work_dir=work,
        progress=plan.progress,
    )
    try:
        if not from_checkpoint:
            outcome = run_one(run, plan.split, context)
            outcome["computed_at"] = commit
        # a row read back from its checkpoint still gets its prompt records
        records_file = _write_prompt_records(run, plan.split, context, board, finished.summaries)
    except Exception as exc:
        if plan.fail_fast:
            raise
        finished.failed.append(_failure(run, run_dir, exc))
        log.error("%s failed: %s (the other rows go on)", run.name, exc)
        return
    finally:
        # free the model and hand the heap back to the OS before the next row,
        # so each row's peak memory starts from the same floor
        run.recommender = None
        release_freed_memory()
    if not from_checkpoint:
        if data_parallel.world().main:
            checkpoints.save(plan.cache_dir, key, outcome, run_dir)
        shutil.rmtree(work, ignore_errors=True)
        kill_point(f"after:{run.name}")
    finished.per_request[run.name] = outcome["per_request"]
    if outcome["full"]:
        finished.target_ranks[run.name] = outcome["full"]["target_rank"]
    scores_file = f"scores/{_slug(run.name)}.npz"
    full = outcome["full"]
    write_row_scores(
        board / scores_file,
        outcome["scores"],
        full["target_rank"] if full else None,
        full["top_items"] if full else None,
    )
    finished.records.append(
        _row_record(
            plan, run, outcome, capabilities, tolerance, scores_file, from_checkpoint, records_file
        )
    )
    if not any(run_dir.iterdir()):
        run_dir.rmdir()


def _row_record(
    plan: RunPlan,
    run: PreparedRun,
    outcome: dict[str, Any],
    capabilities: dict[str, Any],
    tolerance: float,
    scores_file: str,
    from_checkpoint: bool,
    records_file: str | None,
) -> dict[str, Any]:
    """A finished row as results.json records it: metrics with their CIs, costs, training."""
    seed = plan.experiment.split.seed
    positives = np.array([r.positive_index for r in plan.split.test])
    metrics, cis = {}, {}
    for key, values in outcome["per_request"].items():
        mean, low, high = mean_with_ci(values, seed)
        metrics[key], cis[key] = mean, [low, high]
    full = outcome["full"]
    return {
        "name": run.name,
        "recommender": run.spec.recommender,
        "plugin": run.plugin,
        "options": options_dict(run.options),
        "capabilities": capabilities,
        "metrics": metrics,
        "ci95": cis,
        "full_ranking": (
            {k: float(v.mean()) for k, v in full_ranking_metrics(full["target_rank"]).items()}
            if full
            else None
        ),
        "costs": outcome["costs"],
        "position": position_diagnostics(outcome["scores"], positives),
        "training": outcome["training"],
        "scores_file": scores_file,
        "seed": seed,
        "device": plan.experiment.device,
        "reproducible_within": tolerance,
        # a row read back from its checkpoint keeps the commit it was computed at
        "from_checkpoint": from_checkpoint,
        "computed_at": outcome.get("computed_at"),
        **({"rerank": outcome["rerank"]} if outcome.get("rerank") else {}),
        **({"records_file": records_file} if records_file else {}),
    }


def _results(plan: RunPlan, made: dict[str, Any], finished: _Finished) -> dict[str, Any]:
    """results.json: provenance, experiment, dataset, split, rows, and the board's tests."""
    dataset, split, records = plan.dataset, plan.split, finished.records
    # a reranked row's sampled-candidate numbers are its plain row's: it joins the full-
    # catalog family only, so no duplicate row widens the sampled families' corrections
    sampled = sampled_runs({"runs": records})
    return {
        "harness_version": __version__,
        "provenance": made,
        "experiment": experiment_dict(plan.experiment),
        "dataset": {
            "name": dataset.name,
            "options": plan.experiment.dataset_options,
            "domain": dataset.domain,
            "fingerprint": dataset.fingerprint(),
            "items": len(dataset.catalog),
            "sequences": len(dataset.sequences),
            "interactions": dataset.n_interactions,
        },
        "split": {
            "sha256": split.sha256,
            "file": "split.json",
            "params": {k: v for k, v in vars(split.config).items()},
            "train_sequences": len(split.train),
            "valid_requests": len(split.valid),
            "test_requests": len(split.test),
            "candidates_per_request": len(split.test[0].candidates),
            "protocol": split.config.protocol,
            "protocol_details": split.protocol_details,
        },
        "environment": library_versions(),
        "runs": records,
        "failed_runs": finished.failed,
        "paired_tests": _paired(sampled, finished.per_request),
        "full_paired_tests": _full_paired(records, finished.target_ranks),
        "chance_tests": _chance(sampled, finished.per_request, len(split.test[0].candidates)),
    }


def _write_prompt_records(
    run: PreparedRun, split: Split, context: RunContext, board: Path, summaries: dict[str, str]
) -> str | None:
    """A row that sends prompts (``prompt_records``) gets ``records/<row>.jsonl.gz``: what it
    sent for each test request. Returns the file's path in the board, or None."""
    make = getattr(run.recommender, "prompt_records", None)
    if make is None or not data_parallel.world().main:
        return None
    test = split.test
    with plugin_errors(f"recommender {run.name!r} failed building its prompt records"):
        built = make([r.unlabeled() for r in test], split.dataset, context)
    catalog = split.dataset.catalog
    lines = compact(
        [r.sequence_id for r in test],
        [[catalog.item_id(int(c)) for c in r.candidates] for r in test],
        built,
        summaries,
    )
    relative = f"{RECORDS}/{_slug(run.name)}.jsonl.gz"
    write_row_records(board / relative, lines)
    return relative


def add_prompt_records(
    board: Path, cache_dir: Path | None = None, data_dir: Path | None = None, progress=True
) -> list[str]:
    """Give a board made before ``records/`` existed its LLM rows' prompt records.

    The prompts are rebuilt from the board's recorded experiment and split (summaries
    read from the generation cache, or generated where missing), never rescored; the
    results file names each row's records and the commit that built them. Returns the
    rows that got records."""
    from harness.orchestration.experiment import experiment_from_dict

    board = Path(board)
    results = json.loads((board / "results.json").read_text())
    experiment = experiment_from_dict(results["experiment"])
    registry = default_registry()
    cache_dir = cache_root(cache_dir)
    dataset = load_dataset(
        experiment.dataset,
        experiment.dataset_options,
        DatasetContext(data_dir or experiment.data_dir, cache_dir, seed=experiment.split.seed),
        registry,
    )
    split = read_split(board / results["split"].get("file", "split.json"), dataset)
    prepared = {run.name: run for run in prepare_runs(experiment.runs, registry)}
    summaries: dict[str, str] = {}
    done = []
    for record in results["runs"]:
        run = prepared.get(record["name"])
        if run is None:
            raise HarnessError(f"{board}: row {record['name']!r} is not in its experiment")
        context = RunContext(
            seed=experiment.split.seed,
            device=experiment.device,
            cache_dir=cache_dir,
            progress=progress,
        )
        relative = _write_prompt_records(run, split, context, board, summaries)
        run.recommender = None
        release_freed_memory()
        if relative:
            record["records_file"] = relative
            done.append(record["name"])
    if summaries:
        write_summaries(board / RECORDS, summaries)
    made = provenance()
    results["records_made"] = {"commit": made["commit"], "date": made["date"]}
    (board / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    return done


def _failure(run: PreparedRun, run_dir: Path, exc: BaseException) -> dict[str, Any]:
    """The record of a row that raised; its traceback goes to a file in its run folder."""
    (run_dir / "traceback.txt").write_text("".join(traceback.format_exception(exc)))
    return {
        "name": run.name,
        "recommender": run.spec.recommender,
        "plugin": run.plugin,
        "options": options_dict(run.options),
        "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        "traceback": f"runs/{run_dir.name}/traceback.txt",
    }


def _paired(records: list[dict], per_request: dict[str, dict[str, np.ndarray]]) -> dict[str, Any]:
    """Every row against the best row, and every pair of rows, on NDCG@10 (paired over the
    same test requests; the pairs' p-values Holm-corrected over all pairs)."""
    if len(records) < 2:
        return {}
    best = max(records, key=lambda r: r["metrics"][HEADLINE])["name"]
    rows = {
        r["name"]: paired_test(per_request[best][HEADLINE], per_request[r["name"]][HEADLINE])
        for r in records
        if r["name"] != best
    }
    pairs = all_pairs({r["name"]: per_request[r["name"]][HEADLINE] for r in records})
    return {"metric": HEADLINE, "reference": best, "rows": rows, "pairs": pairs}


def _full_paired(records: list[dict], target_ranks: dict[str, np.ndarray]) -> dict[str, Any]:
    """Every pair of full-ranking rows on full-catalog NDCG@10, over the same requests and
    Holm-corrected over these pairs: how a reranked row is read against its retriever."""
    if len(target_ranks) < 2:
        return {}
    values = {
        r["name"]: full_ranking_metrics(target_ranks[r["name"]])[HEADLINE]
        for r in records
        if r["name"] in target_ranks
    }
    return {"metric": HEADLINE, "pairs": all_pairs(values)}


def _chance(
    records: list[dict], per_request: dict[str, dict[str, np.ndarray]], n_candidates: int
) -> dict[str, Any]:
    """Every row's NDCG@10 and AUC against the analytic chance level of the board's
    candidate count (one-sample t-tests, Holm-corrected over the board's rows per metric)."""
    out = {}
    for metric in CHANCE_METRICS:
        level = chance_level(metric, n_candidates)
        rows = {r["name"]: chance_test(per_request[r["name"]][metric], level) for r in records}
        names = list(rows)
        for name, adjusted in zip(names, holm([rows[n]["t_p"] for n in names])):
            rows[name]["holm_p"] = adjusted
        out[metric] = {"chance": level, "candidates": n_candidates, "rows": rows}
    return out
