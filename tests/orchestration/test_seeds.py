"""`--seeds`: one board per seed, and each row's mean and std over the seeds."""

import json
import statistics

import pytest
from helpers import run_cli


def test_seeds_write_a_board_per_seed_and_the_spread(tmp_path):
    out = tmp_path / "out"
    args = ["evaluate", "-r", "random", "-r", "popularity", "--users", "30", "--out", str(out)]
    args += ["--cache-dir", str(tmp_path / "cache"), "--seeds", "0,1,2"]
    code, stdout, stderr = run_cli(*args)
    assert code == 0, stderr
    summary = json.loads((out / "seeds.json").read_text())
    shas = set()
    for name in ("random", "popularity"):
        values = []
        for seed in (0, 1, 2):
            board = json.loads((out / f"seed-{seed}" / "results.json").read_text())
            assert board["split"]["params"]["seed"] == seed
            shas.add(board["split"]["sha256"])
            values.append(next(r for r in board["runs"] if r["name"] == name)["metrics"]["ndcg@10"])
        row = summary["rows"][name]["ndcg@10"]
        assert list(row["per_seed"].values()) == values
        assert abs(row["mean"] - statistics.mean(values)) < 1e-12
        assert abs(row["std"] - statistics.stdev(values)) < 1e-12
    assert len(shas) == 3  # each seed draws its own split
    assert "NDCG@10 mean ± std" in stdout and "seed 2" in stdout


@pytest.mark.parametrize("seeds", ["0,x", "3", "1,1"])
def test_bad_seeds_are_a_usage_error(tmp_path, seeds):
    out = tmp_path / "o"
    code, _, stderr = run_cli("evaluate", "-r", "random", "--seeds", seeds, "--out", str(out))
    assert code == 2 and f"--seeds {seeds!r}" in stderr
    assert not out.exists()
