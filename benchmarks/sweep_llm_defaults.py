"""Validation sweep behind the LLM rows' training defaults (issue 11, part 4).

Each point fine-tunes ``truncated-llm`` on the 200-user ml-100k split of
``experiments/ml-100k-llm.toml`` for two epochs and reads the validation
NDCG@10 that ``fit`` records after each epoch, on a fixed sample of
validation requests. Test requests are never scored. Popularity and the
chance level on the same validation requests are printed for scale.

Run alone (torch slows sharply when another process holds a core)::

    python benchmarks/sweep_llm_defaults.py --lr 3e-4 1e-3 3e-3 --train-sequences 60

Each point appends one JSON line to ``--out`` as soon as it ends, so an
interrupted sweep keeps its finished points; rerunning skips them.
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
from harness.experiment import RunSpec
from harness.metrics import candidate_metrics
from harness.plugins import default_registry
from harness.recommender import RunContext
from harness.runner import load_dataset, prepare_runs
from harness.splits import SplitConfig, build_split

CHANCE_NDCG10 = 0.2164  # 1 positive among 21 candidates, ranked at random


def _validation_popularity(split, valid) -> float:
    (run,) = prepare_runs([RunSpec("popularity")], default_registry())
    context = RunContext(seed=0, device="cpu", progress=False)
    run.recommender.fit(split.train_data(), context)
    scores = run.recommender.score([r.unlabeled() for r in valid], context)
    positives = np.array([r.positive_index for r in valid])
    return float(candidate_metrics(np.asarray(scores), positives)["ndcg@10"].mean())


def _point(split, options: dict, seed: int) -> dict:
    (run,) = prepare_runs([RunSpec("truncated-llm", options)], default_registry())
    with tempfile.TemporaryDirectory() as run_dir:
        context = RunContext(seed=seed, device="cpu", run_dir=Path(run_dir), progress=False)
        started = time.perf_counter()
        run.recommender.fit(split.train_data(), context)
        seconds = time.perf_counter() - started
    return {
        "options": options,
        "fit_s": round(seconds, 1),
        "validation": context.training["validation"],
        "train_examples": context.costs.get("train_examples"),
        "train_loss_final": context.costs.get("train_loss_final"),
        "train_loss_prior": context.costs.get("train_loss_prior"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lr", type=float, nargs="+", default=[3e-4, 1e-3, 3e-3])
    parser.add_argument("--train-sequences", type=int, nargs="+", default=[60])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--valid-requests", type=int, default=50)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("sweep-llm-defaults.jsonl"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="sweep: %(message)s")

    dataset = load_dataset("ml-100k", {}, DatasetContext(), default_registry())
    split = build_split(dataset, SplitConfig(seed=0, users=args.users))
    done = set()
    if args.out.exists():
        done = {json.dumps(json.loads(line)["options"], sort_keys=True) for line in args.out.open()}
    for sequences in args.train_sequences:
        for lr in args.lr:
            options = {
                "lr": lr,
                "train_sequences": sequences,
                "epochs": args.epochs,
                "valid_requests": args.valid_requests,
            }
            if json.dumps(options, sort_keys=True) in done:
                continue
            record = _point(split, options, seed=0)
            logging.info("%s", record)
            with args.out.open("a") as f:
                f.write(json.dumps(record) + "\n")

    (probe,) = prepare_runs(
        [RunSpec("truncated-llm", {"epochs": args.epochs, "valid_requests": args.valid_requests})],
        default_registry(),
    )
    valid = probe.recommender.valid_sample(split.valid, 0)
    print(f"split {split.sha256[:12]}: {len(valid)} validation requests")
    print(f"chance NDCG@10 {CHANCE_NDCG10:.4f}; popularity {_validation_popularity(split, valid):.4f}")
    print("| lr | train examples | epoch 1 | epoch 2 | final loss (prior) | fit s |")
    print("|---|---|---|---|---|---|")
    for line in args.out.open():
        r = json.loads(line)
        by_epoch = {v["epoch"]: v["ndcg@10"] for v in r["validation"]}
        print(
            f"| {r['options']['lr']:g} | {r['train_examples']} | {by_epoch.get(1, float('nan')):.4f} "
            f"| {by_epoch.get(2, float('nan')):.4f} | {r['train_loss_final']:.3f} "
            f"({r['train_loss_prior']:.3f}) | {r['fit_s']:.0f} |"
        )


if __name__ == "__main__":
    main()
