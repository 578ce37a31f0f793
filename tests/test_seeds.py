"""`--seeds`: one board per seed, and each row's mean and std over the seeds."""

import json
import statistics

from conftest import run_harness


def test_seeds_write_a_board_per_seed_and_the_spread(tmp_path):
    out = tmp_path / "out"
    env = {"HARNESS_CACHE": str(tmp_path / "cache")}
    args = ["evaluate", "-r", "random", "-r", "popularity", "--users", "30", "--out", str(out)]
    result = run_harness(*args, "--seeds", "0,1,2", env=env)
    assert result.returncode == 0, result.stderr
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
    assert "NDCG@10 mean ± std" in result.stdout and "seed 2" in result.stdout


def test_bad_seeds_are_a_usage_error(tmp_path):
    result = run_harness("evaluate", "-r", "random", "--seeds", "0,x", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "--seeds '0,x'" in result.stderr
    assert not (tmp_path / "o").exists()
