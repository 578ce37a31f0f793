"""Recompute a committed board's metrics from its split and per-request scores.

``harness leaderboard verify DIR`` checks the split's sha256, then recomputes
every row's candidate metrics, bootstrap intervals, full-ranking metrics and
tests against the chance level from ``split.json`` and ``scores/<row>.npz``,
and compares them with ``results.json``. :func:`provenance_problem` says when
no commit reproduces a board (made from a dirty tree). The candidate metrics are computed here again from their
definitions, independently of :mod:`harness.metrics`, so a bug there cannot
hide itself.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.metrics import CUTOFFS, FULL_CUTOFFS, all_pairs, full_ranking_metrics, mean_with_ci
from harness.orchestration.records import verify_records
from harness.orchestration.row_scores import read_row_scores

# the recorded means went through the same float64 arithmetic; allow only its rounding
TOLERANCE = 1e-12


def split_sha256(data: dict[str, Any]) -> str:
    """The sha256 a split file records: over its canonical JSON, less the hash itself."""
    body = {k: v for k, v in data.items() if k != "sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def per_request_metrics(scores: np.ndarray, positive: np.ndarray) -> dict[str, np.ndarray]:
    """Recall, MRR, NDCG at the cutoffs and AUC, from the definitions (pessimistic ties)."""
    rows = np.arange(len(scores))
    target = scores[rows, positive][:, None]
    rank = (scores >= target).sum(axis=1) - 1  # candidates at least as good, less itself
    out: dict[str, np.ndarray] = {}
    for k in CUTOFFS:
        hit = rank < k
        out[f"recall@{k}"] = hit.astype(np.float64)
        out[f"mrr@{k}"] = np.where(hit, 1.0 / (rank + 1), 0.0)
        out[f"ndcg@{k}"] = np.where(hit, 1.0 / np.log2(rank + 2), 0.0)
    out["auc"] = (scores < target).sum(axis=1) / (scores.shape[1] - 1)
    return out


def _differs(recorded: float, recomputed: float) -> bool:
    return not math.isclose(recorded, recomputed, rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise HarnessError(f"{path}: missing (a board needs results.json and split.json)") from None
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path}: not readable JSON: {exc}") from None


def verify_board(folder: Path) -> list[str]:
    """Every difference between the board's recorded and recomputed numbers (empty: verified)."""
    folder = Path(folder)
    results = _read_json(folder / "results.json")
    split = _read_json(folder / results["split"].get("file", "split.json"))
    problems = []
    sha = split_sha256(split)
    if sha != split.get("sha256") or sha != results["split"]["sha256"]:
        problems.append(
            f"split.json: sha256 {sha[:12]} differs from the recorded "
            f"{str(split.get('sha256'))[:12]} / {results['split']['sha256'][:12]}"
        )
    test = split["test"]
    positive = np.array([r["candidates"].index(r["target"]) for r in test])
    seed = results["split"]["params"]["seed"]
    per_request: dict[str, dict[str, np.ndarray]] = {}
    full: dict[str, dict[str, np.ndarray]] = {}
    for run in results["runs"]:
        name = run["name"]
        path = folder / run["scores_file"]
        if not path.is_file():
            problems.append(f"{name}: scores file {run['scores_file']} is missing")
            continue
        arrays = read_row_scores(path)
        scores = arrays["scores"]
        if scores.shape != (len(test), len(test[0]["candidates"])):
            problems.append(f"{name}: scores of shape {scores.shape} for {len(test)} requests")
            continue
        for metric, values in per_request_metrics(scores, positive).items():
            mean = float(values.mean())
            if _differs(run["metrics"][metric], mean):
                problems.append(
                    f"{name}: {metric} recorded {run['metrics'][metric]!r}, recomputed {mean!r}"
                )
            low, high = run["ci95"][metric]
            _, new_low, new_high = mean_with_ci(values, seed)
            if _differs(low, new_low) or _differs(high, new_high):
                problems.append(
                    f"{name}: {metric} 95% CI recorded [{low}, {high}], "
                    f"recomputed [{new_low}, {new_high}]"
                )
        problems += _verify_full_ranking(run, arrays, len(test))
        per_request[name] = per_request_metrics(scores, positive)
        if "target_rank" in arrays and arrays["target_rank"].shape == (len(test),):
            full[name] = full_ranking_metrics(arrays["target_rank"])
    problems += _verify_chance_tests(results, per_request, len(test[0]["candidates"]))
    problems += _verify_pairs(results, "paired_tests", per_request)
    problems += _verify_pairs(results, "full_paired_tests", full)
    problems += verify_records(folder, results, split)
    return problems


def _verify_pairs(
    results: dict[str, Any], key: str, per_request: dict[str, dict[str, np.ndarray]]
) -> list[str]:
    """The recorded pairwise tests (``key``: sampled or full-catalog) recomputed from the
    rows' score files: the same pairs, means, p-values and Holm corrections."""
    recorded = (results.get(key) or {}).get("pairs")
    if not recorded:
        return []
    metric = results[key]["metric"]
    names = {p["a"] for p in recorded} | {p["b"] for p in recorded}
    missing = sorted(n for n in names if n not in per_request)
    if missing:
        return [f"{key}: no per-request values for {', '.join(missing)}"]
    again = {(p["a"], p["b"]): p for p in all_pairs({n: per_request[n][metric] for n in names})}
    problems = []
    for pair in recorded:
        fresh = again.get((pair["a"], pair["b"]))
        if fresh is None:
            problems.append(f"{key}: {pair['a']} vs {pair['b']} is not a pair in mean order")
            continue
        for field in ("mean_diff", "t_p", "holm_p", "wilcoxon_p", "wilcoxon_holm_p"):
            if field in pair and not math.isclose(
                pair[field], fresh[field], rel_tol=1e-9, abs_tol=1e-12
            ):
                problems.append(
                    f"{key}: {pair['a']} vs {pair['b']} {field} recorded {pair[field]!r}, "
                    f"recomputed {fresh[field]!r}"
                )
    if len(recorded) != len(again):
        problems.append(f"{key}: {len(recorded)} pairs recorded, {len(again)} recomputed")
    return problems


def provenance_problem(folder: Path) -> str | None:
    """Why no commit reproduces the board as committed (dirty tree, no commit), or None."""
    commit = (_read_json(Path(folder) / "results.json").get("provenance") or {}).get("commit")
    if not commit:
        return "provenance records no commit: no commit reproduces this board"
    if commit.get("dirty"):
        return (
            f"made from a dirty tree at {commit['sha'][:10]}: no commit reproduces this board "
            "(rerun it from a clean checkout)"
        )
    records = (_read_json(Path(folder) / "results.json").get("records_made") or {}).get("commit")
    if records and records.get("dirty"):
        return (
            f"prompt records added from a dirty tree at {records['sha'][:10]}: rerun "
            "`harness leaderboard records` from a clean checkout"
        )
    return None


def _verify_chance_tests(
    results: dict[str, Any], per_request: dict[str, dict[str, np.ndarray]], n: int
) -> list[str]:
    """The chance levels from their definition, the one-sample t-tests and their Holm
    correction recomputed with scipy directly."""
    from scipy import stats

    problems = []
    for metric, recorded in (results.get("chance_tests") or {}).items():
        k = int(metric.partition("@")[2] or 0)
        if metric == "auc":
            level = 0.5
        elif metric.startswith("ndcg@"):
            level = sum(1 / math.log2(r + 2) for r in range(min(k, n))) / n
        else:  # never a silent pass on a metric whose chance level is not defined here
            problems.append(f"chance test of {metric}: verify defines no chance level for it")
            continue
        if _differs(recorded["chance"], level):
            problems.append(f"chance level of {metric}: recorded {recorded['chance']}, not {level}")
        names = [name for name in recorded["rows"] if name in per_request]
        raw = {}
        for name in names:
            diff = per_request[name][metric] - level
            if np.ptp(diff) > 0:
                raw[name] = float(stats.ttest_1samp(diff, 0.0).pvalue)
            else:  # a constant difference: certain unless it is zero
                raw[name] = 0.0 if np.any(diff) else 1.0
        running = 0.0
        for position, name in enumerate(sorted(names, key=raw.get)):
            running = max(running, min(1.0, (len(names) - position) * raw[name]))
            got = recorded["rows"][name]["holm_p"]
            if not math.isclose(got, running, rel_tol=1e-9, abs_tol=1e-12):
                problems.append(
                    f"{name}: {metric} vs chance holm_p recorded {got}, recomputed {running}"
                )
    return problems


def _verify_full_ranking(run: dict[str, Any], arrays: dict[str, np.ndarray], n: int) -> list[str]:
    recorded = run.get("full_ranking")
    if not recorded:
        return []
    if "target_rank" not in arrays:
        return [f"{run['name']}: full-ranking metrics recorded but no target_rank in its scores"]
    rank = arrays["target_rank"]
    if rank.shape != (n,):
        return [f"{run['name']}: target_rank of shape {rank.shape} for {n} requests"]
    problems = []
    for k in FULL_CUTOFFS:
        hit = rank < k
        for metric, values in (
            (f"recall@{k}", hit.astype(np.float64)),
            (f"ndcg@{k}", np.where(hit, 1.0 / np.log2(rank + 2), 0.0)),
        ):
            mean = float(values.mean())
            if _differs(recorded[metric], mean):
                problems.append(
                    f"{run['name']}: full-ranking {metric} recorded {recorded[metric]!r}, "
                    f"recomputed {mean!r}"
                )
    return problems
