"""Scoring throughput, side by side: 2 processes of 1 thread (torchrun) against 1 process of 2.

Workload: the zero-shot ``truncated-llm`` row (the real embedded model,
float32 on the CPU) scoring the test requests of an ml-100k sample, 21
candidates each, through ``harness evaluate`` as a user runs it. Each side
runs once in its own fresh cache; the figure compared is the row's
``score_s`` from results.json (on rank 0 it ends after the gather, so it
covers both shards). Both must give the same metrics.

``HARNESS_BENCH_USERS`` (default 8). Run alone:
``pytest benchmarks/bench_data_parallel.py -p no:randomly -s``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

USERS = int(os.environ.get("HARNESS_BENCH_USERS", "8"))
ROW = "truncated-llm[zero_shot=true]"
HARNESS = str(Path(sys.executable).parent / "harness")


def _score_s(tmp_path: Path, name: str, launcher: list[str], threads: int) -> tuple[float, dict]:
    env = {
        **os.environ,
        "HARNESS_CACHE": str(tmp_path / f"{name}-cache"),
        "OMP_NUM_THREADS": str(threads),
        "HF_HUB_OFFLINE": "1",
    }
    out = tmp_path / name
    args = ["evaluate", "--users", str(USERS), "-r", ROW, "--device", "cpu", "--out", str(out)]
    result = subprocess.run([*launcher, *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = json.loads((out / "results.json").read_text())["runs"]
    return run["costs"]["score_s"], run["metrics"]


def test_two_processes_against_one(tmp_path, report):
    one_s, one = _score_s(tmp_path, "one", [HARNESS], threads=2)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    two_s, two = _score_s(tmp_path, "two", [*torchrun, "-m", "harness"], threads=1)
    assert two == one
    report(
        [
            f"scoring {USERS} requests x 21 candidates, zero-shot truncated-llm, float32, 1 round each",
            f"  1 process x 2 threads: {one_s:.1f} s ({USERS / one_s:.2f} requests/s)",
            f"  2 processes x 1 thread: {two_s:.1f} s ({USERS / two_s:.2f} requests/s)",
            f"  ratio: {one_s / two_s:.2f}x",
        ]
    )
