"""`harness evaluate` end to end on the embedded ml-100k, as a user runs it: the first run
through the installed console script in its own process, the others in-process."""

import json

import pytest
from helpers import run_cli, run_harness

from harness.orchestration.row_scores import read_row_scores


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, session_cache):
    """random + popularity on all 943 users (fast: no training beyond counting)."""
    out = tmp_path_factory.mktemp("full") / "out"
    result = run_harness(
        "evaluate",
        "-r",
        "random",
        "-r",
        "popularity",
        "--out",
        str(out),
        env={"HARNESS_CACHE": str(session_cache)},
    )
    assert result.returncode == 0, result.stderr
    return result, out


def test_evaluate_writes_results_split_scores_and_leaderboard(full_run):
    result, out = full_run
    assert (out / "leaderboard.md").read_text() in result.stdout
    results = json.loads((out / "results.json").read_text())
    assert {p.name for p in out.iterdir()} == {
        "results.json",
        "leaderboard.md",
        "split.json",
        "scores",
    }
    assert results["split"]["test_requests"] == 943
    assert results["split"]["sha256"][:12] in result.stdout
    assert read_row_scores(out / "scores" / "popularity.npz")["scores"].shape == (943, 21)
    for run in results["runs"]:
        assert run["costs"]["peak_rss_mb"] > 0 and run["costs"]["score_s"] >= 0
        assert set(run["ci95"]) == set(run["metrics"])
    assert results["environment"]["numpy"]


def test_popularity_beats_random_and_random_matches_theory(full_run):
    _, out = full_run
    runs = {r["name"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
    for key, value in runs["popularity"]["metrics"].items():
        assert value > runs["random"]["metrics"][key], key
    low, high = runs["random"]["ci95"]["recall@10"]
    assert low <= 10 / 21 <= high
    assert runs["popularity"]["full_ranking"]["recall@20"] > 0
    assert runs["random"]["full_ranking"] is None


def test_rerun_reuses_the_split_and_gives_identical_metrics(full_run, tmp_path):
    _, out = full_run
    again = tmp_path / "again"
    result = run_cli("evaluate", "-r", "popularity", "-r", "random", "--out", str(again))
    assert result.returncode == 0, result.stderr
    assert "reusing split" in result.stderr
    assert (again / "split.json").read_bytes() == (out / "split.json").read_bytes()
    first = {
        r["name"]: r["metrics"] for r in json.loads((out / "results.json").read_text())["runs"]
    }
    second = {
        r["name"]: r["metrics"] for r in json.loads((again / "results.json").read_text())["runs"]
    }
    assert first == second


def test_experiment_file_with_the_same_recommender_twice(tmp_path):
    experiment = tmp_path / "exp.toml"
    experiment.write_text(
        'dataset = "ml-100k"\n[split]\nseed = 3\nusers = 80\n'
        '[[runs]]\nrecommender = "random"\n'
        '[[runs]]\nname = "random again"\nrecommender = "random"\n'
        '[[runs]]\nrecommender = "popularity"\n'
    )
    result = run_cli("evaluate", str(experiment), "--out", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    names = [r["name"] for r in results["runs"]]
    assert names == ["random", "random again", "popularity"]
    assert results["split"]["params"]["seed"] == 3
    assert results["split"]["test_requests"] == 80
    # the same seeded random recommender twice gives the same numbers
    assert results["runs"][0]["metrics"] == results["runs"][1]["metrics"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "nope"], "unknown recommender 'nope'; available: "),
        (["--dataset", "nope", "-r", "random"], "unknown dataset 'nope'; available: "),
        (["-r", "random[x=1]"], "recommender 'random' takes no options"),
        (["-r", "random", "-r", "random"], "two runs are named 'random'"),
        (["--users", "0", "-r", "random"], "split option users=0: must be at least 1"),
        ([], "no recommender given"),
    ],
)
def test_usage_errors_exit_2_with_one_line_and_no_output(tmp_path, args, message):
    out = tmp_path / "out"
    result = run_cli("evaluate", *args, "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_bad_experiment_file_names_the_file(tmp_path):
    experiment = tmp_path / "exp.toml"
    experiment.write_text('[[runs]]\nrecommender = "random"\nopts = {}\n')
    result = run_cli("evaluate", str(experiment), "--out", tmp_path / "o")
    assert result.returncode == 2
    assert f"{experiment}: [[runs]] entry 1 has unknown key(s) opts" in result.stderr


def test_leaderboard_command_rerenders_results(full_run):
    _, out = full_run
    result = run_cli("leaderboard", str(out / "results.json"))
    assert result.returncode == 0
    assert result.stdout.strip() == (out / "leaderboard.md").read_text().strip()


def test_datasets_lists_embedded():
    result = run_cli("datasets")
    assert "ml-100k" in result.stdout and "ml-1m" in result.stdout
