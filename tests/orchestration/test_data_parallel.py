"""Two CPU processes under ``accelerate launch`` (gloo) give the one-process board.

Scoring is sharded by request across the processes and gathered in request
order, so every untrained row's metrics, full-ranking figures and stored
scores equal a one-process run's. A fine-tuned LLM row trains under DDP on
the same global batch: the same number of optimizer steps over the same
examples. Only rank 0 writes the output folder.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
from helpers import HARNESS, run_harness

ROWS = ["random", "popularity"]  # popularity also ranks the full catalog, sharded too


def _board(tmp_path: Path, name: str, launcher: list[str], rows: list[str]) -> tuple[dict, str]:
    env = {"HARNESS_CACHE": str(tmp_path / f"{name}-cache"), "OMP_NUM_THREADS": "1"}
    args = ["evaluate", "--users", "16", *[a for row in rows for a in ("-r", row)]]
    result = run_harness(
        *args, "--out", tmp_path / name, env=env, launcher=tuple(launcher), timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((tmp_path / name / "results.json").read_text()), result.stderr


def _same_rows(one: dict, two: dict, one_dir: Path, two_dir: Path, count: int) -> None:
    """The first ``count`` rows have the same metrics; stored scores equal bit for bit, except
    an LLM's, which a shard batches with other users (padding moves the sums by ~1e-8)."""
    assert [r["name"] for r in two["runs"]] == [r["name"] for r in one["runs"]]
    for first, second in zip(one["runs"][:count], two["runs"][:count]):
        assert second["metrics"] == first["metrics"], first["name"]
        assert second["full_ranking"] == first["full_ranking"], first["name"]
        a = np.load(one_dir / first["scores_file"])
        b = np.load(two_dir / second["scores_file"])
        assert a.files == b.files
        for key in a.files:
            if first["recommender"] == "truncated-llm":
                np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-6)
            else:
                np.testing.assert_array_equal(a[key], b[key])


def test_two_processes_give_the_one_process_board(tmp_path, tiny_model_dir):
    llm = f"truncated-llm[model={tiny_model_dir},users_per_batch=4"
    zero_shot = f"{llm},zero_shot=true]"
    trained = f"{llm},train_sequences=8,examples_per_user=2,negatives=1,batch_size=4]"
    rows = [*ROWS, zero_shot, trained]
    one, _ = _board(tmp_path, "one", [HARNESS], rows)
    # accelerate's multi-process launcher is torch.distributed.run: torchrun works the same
    accelerate = [str(Path(sys.executable).parent / "accelerate"), "launch", "--multi_gpu"]
    two, log = _board(tmp_path, "two", [*accelerate, "--num_processes", "2", "-m", "harness"], rows)
    assert "data parallel: 2 processes (gloo)" in log
    _same_rows(one, two, tmp_path / "one", tmp_path / "two", count=len(rows) - 1)
    alone, ddp = one["runs"][-1]["costs"], two["runs"][-1]["costs"]
    assert ddp["train_steps"] == alone["train_steps"] == 4  # 16 packed rows, 4 a step
    assert ddp["train_examples"] == alone["train_examples"]
    assert all(math.isfinite(e["loss"]) for e in two["runs"][-1]["training"]["log"])
    assert not list(tmp_path.glob(".two.tmp-*"))  # rank 1 wrote no output of its own


def test_prompt_building_shares_keep_a_users_windows_on_one_process():
    """Each user's windows are adjacent; contiguous shares split at most size-1 users, where
    every-N-th shares put each user with more than one window on several processes."""
    from harness.recommenders.llm import contiguous_share

    windows = [(user, k) for user in range(10) for k in range(3)]  # 10 users x 3 windows
    for size in (1, 2, 3, 4):
        shares = [contiguous_share(windows, rank, size) for rank in range(size)]
        assert [w for share in shares for w in share] == windows
        assert max(map(len, shares)) - min(map(len, shares)) <= 1
        split = {u for u in range(10) if sum(any(w[0] == u for w in s) for s in shares) > 1}
        assert len(split) <= size - 1
        every_nth = [windows[rank::size] for rank in range(size)]
        assert sum(any(w[0] == 0 for w in s) for s in every_nth) == min(size, 3)
