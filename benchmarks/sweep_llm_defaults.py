"""Validation sweep behind the LLM rows' training defaults (issue 11, part 4).

Each point fine-tunes ``truncated-llm`` on the 200-user ml-100k split of
``experiments/ml-100k-llm.toml`` and scores a fixed seeded sample of its
validation requests with the trained adapter (NDCG@10 over 21 candidates).
Test requests are never scored. Popularity and the chance level on the same
validation requests are printed for scale.

Run alone (torch slows sharply when another process holds a core)::

    python benchmarks/sweep_llm_defaults.py --lr 3e-4 1e-3 3e-3 --train-sequences 120

Each point appends one JSON line to ``--out`` as soon as it ends, so an
interrupted sweep keeps its finished points; rerunning skips them. A line
keeps the per-request validation NDCG@10, so that points can be compared by a
paired test over the same requests (lines written before that was kept are
rerun once, and the newest line of a point is the one shown).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.data.context import DatasetContext
from harness.metrics import candidate_metrics, holm, paired_test
from harness.orchestration.experiment import RunSpec
from harness.orchestration.runner import load_dataset, prepare_runs
from harness.plugins import default_registry
from harness.recommender import RunContext
from harness.splits import SplitConfig, build_split

CHANCE_NDCG10 = 0.2164  # 1 positive among 21 candidates, ranked at random


def _validation_ndcg(rec, valid, context) -> np.ndarray:
    """Per-request NDCG@10 over the validation requests."""
    scores = rec.score([r.unlabeled() for r in valid], context)
    positives = np.array([r.positive_index for r in valid])
    return candidate_metrics(np.asarray(scores), positives)["ndcg@10"]


def _point(split, valid, options: dict, seed: int) -> dict:
    (run,) = prepare_runs([RunSpec(options.pop("recommender"), options)], default_registry())
    with tempfile.TemporaryDirectory() as run_dir:
        context = RunContext(seed=seed, device="cpu", run_dir=Path(run_dir), progress=False)
        started = time.perf_counter()
        run.recommender.fit(split.train_data(), context)
        seconds = time.perf_counter() - started
        ndcg = _validation_ndcg(run.recommender, valid, context)
    return {
        "fit_s": round(seconds, 1),
        "valid_ndcg@10": float(ndcg.mean()),
        "valid_ndcg@10_per_request": [round(float(x), 6) for x in ndcg],
        "train_examples": context.costs.get("train_examples"),
        "train_loss_final": context.costs.get("train_loss_final"),
        "train_loss_prior": context.costs.get("train_loss_prior"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lr", type=float, nargs="+", default=[3e-4, 1e-3, 3e-3])
    parser.add_argument("--train-sequences", type=int, nargs="+", default=[120])
    parser.add_argument("--epochs", type=int, nargs="+", default=[1])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[2])
    parser.add_argument("--valid-requests", type=int, default=50)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("sweep-llm-defaults.jsonl"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="sweep: %(message)s")

    dataset = load_dataset("ml-100k", {}, DatasetContext(), default_registry())
    split = build_split(dataset, SplitConfig(seed=0, users=args.users))
    rng = np.random.default_rng([0, 4])
    chosen = sorted(rng.choice(len(split.valid), args.valid_requests, replace=False))
    valid = [split.valid[i] for i in chosen]
    done = set()
    if args.out.exists():
        done = {_key(r["options"]) for r in _records(args.out) if "valid_ndcg@10_per_request" in r}
    baseline = {"recommender": "popularity"}
    points = [baseline] + [
        {"recommender": "truncated-llm", "lr": lr, "train_sequences": n, "epochs": e}
        | {"batch_size": b}
        for n in args.train_sequences
        for e in args.epochs
        for b in args.batch_size
        for lr in args.lr
    ]
    for options in points:
        if _key(options) in done:
            continue
        record = {"options": options, **_point(split, valid, dict(options), seed=0)}
        logging.info("%s", record)
        with args.out.open("a") as f:
            f.write(json.dumps(record) + "\n")

    print(f"split {split.sha256[:12]}: {len(valid)} validation requests, 21 candidates each")
    print(f"chance NDCG@10 {CHANCE_NDCG10:.4f}")
    print_table(args.out)


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open() if line.strip()]


def _key(options: dict) -> str:
    """A point's identity; lines from before batch_size was always written mean batch 8."""
    if "lr" in options:
        options = {"batch_size": 8} | options
    return json.dumps(options, sort_keys=True)


def print_table(path: Path) -> None:
    """The newest line of each point, and paired tests against the best kept LLM point."""
    newest = {_key(r["options"]): r for r in _records(path)}
    print(
        "| row | lr | epochs | batch (packed rows) | train examples | valid NDCG@10 "
        "| final loss (prior) | fit s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in newest.values():
        o = r["options"]
        loss = (
            f"{r['train_loss_final']:.3f} ({r['train_loss_prior']:.3f})"
            if r["train_loss_final"] is not None
            else "–"
        )
        print(
            f"| {o['recommender']} | {o.get('lr', '–')} | {o.get('epochs', '–')} "
            f"| {o.get('batch_size', 8) if 'lr' in o else '–'} "
            f"| {r['train_examples'] or 0:.0f} | {r['valid_ndcg@10']:.4f} | {loss} | {r['fit_s']:.0f} |"
        )
    kept = {k: r for k, r in newest.items() if "valid_ndcg@10_per_request" in r}
    llm = [k for k in kept if "lr" in kept[k]["options"]]
    if not llm:
        return
    best_key = max(llm, key=lambda k: kept[k]["valid_ndcg@10"])
    best = np.array(kept[best_key]["valid_ndcg@10_per_request"])
    others = [k for k in kept if k != best_key]
    tests = [paired_test(best, np.array(kept[k]["valid_ndcg@10_per_request"])) for k in others]
    t_holm = holm([t["t_p"] for t in tests])
    w_holm = holm([t["wilcoxon_p"] for t in tests])
    print(f"\npaired tests against the best kept LLM point {best_key} (Holm over {len(others)}):")
    print("| point | mean best − point | t Holm p | W Holm p |")
    print("|---|---|---|---|")
    for k, t, tp, wp in zip(others, tests, t_holm, w_holm, strict=True):
        print(f"| {k} | {t['mean_diff']:+.4f} | {tp:.2g} | {wp:.2g} |")


if __name__ == "__main__":
    main()
