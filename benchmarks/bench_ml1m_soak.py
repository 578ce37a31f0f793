"""Scale soak: popularity and SASRec end to end on the embedded ml-1m, time and peak memory.

Workload: ``harness evaluate --dataset ml-1m -r popularity -r sasrec[...]`` on
all 6,040 users (about 1M interactions, 3,706 items), in a fresh cache, one
process, as a user runs it. The target is a peak resident memory under 4 GB
for the whole process (``/usr/bin/time``-style ``ru_maxrss`` of the child,
which includes parsing, the split, both rows and the full-catalog ranking).
SASRec's full-ranking NDCG@10 and Recall@10 are printed for the comparison
with published ML-1M leave-one-out full-ranking figures in
RESULTS-sasrec.md. ``HARNESS_SOAK_SASREC`` overrides SASRec's options
(default: the paper's L=200 for ml-1m, otherwise the defaults).

Run alone (2 cores; another process on a core slows torch sharply):
``pytest benchmarks/bench_ml1m_soak.py -s``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SASREC = os.environ.get("HARNESS_SOAK_SASREC", "sasrec[max_length=200]")
HARNESS = str(Path(sys.executable).parent / "harness")
LIMIT_MB = 4096


def test_ml1m_popularity_and_sasrec_end_to_end(tmp_path, report):
    out = tmp_path / "board"
    env = {**os.environ, "HARNESS_CACHE": str(tmp_path / "cache")}
    args = [HARNESS, "evaluate", "--dataset", "ml-1m", "-r", "popularity", "-r", SASREC]
    started = time.perf_counter()
    # the log goes straight to the terminal (-s), so a long soak shows its epochs
    result = subprocess.run([*args, "--out", str(out)], env=env)
    wall = time.perf_counter() - started
    assert result.returncode == 0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    results = json.loads((out / "results.json").read_text())
    lines = [f"ml-1m soak: {wall:.0f} s wall, peak RSS {peak_mb:.0f} MB (limit {LIMIT_MB} MB)"]
    for run in results["runs"]:
        costs, full = run["costs"], run["full_ranking"] or {}
        lines.append(
            f"  {run['name']}: fit {costs['fit_s']:.1f} s, score {costs['score_s']:.1f} s, "
            f"sampled NDCG@10 {run['metrics']['ndcg@10']:.4f}, full NDCG@10 "
            f"{full.get('ndcg@10', float('nan')):.4f}, full Recall@10 "
            f"{full.get('recall@10', float('nan')):.4f}"
        )
    report(lines)
    assert peak_mb < LIMIT_MB
