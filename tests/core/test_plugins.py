"""The plugin system with real pip-installed distributions and real entry points."""

import json

import pytest
from helpers import fake_plugin, run_harness

from harness.boards.views import evaluate_board
from harness.errors import PluginError
from harness.orchestration.experiment import Experiment, RunSpec
from harness.plugins import collect
from harness.splits import SplitConfig


def test_plugins_lists_builtins_and_the_installed_example(plugin_path):
    result = run_harness("plugins", env={"PYTHONPATH": str(plugin_path)})
    assert result.returncode == 0, result.stderr
    assert "harness_baselines.sanity  (built-in)" in result.stdout
    assert "cooccurrence  (harness-cooccurrence 0.1.0)" in result.stdout
    assert "recommender: cooccurrence" in result.stdout
    without = run_harness("plugins")
    assert "cooccurrence" not in without.stdout


def test_example_plugin_runs_in_evaluate(plugin_path, tmp_path):
    out = tmp_path / "out"
    result = run_harness(
        "evaluate",
        "-r",
        "popularity",
        "-r",
        "cooccurrence[window=3]",
        "--users",
        "150",
        "--out",
        str(out),
        env={"PYTHONPATH": str(plugin_path)},
    )
    assert result.returncode == 0, result.stderr
    assert "cooccurrence[window=3]" in result.stdout
    runs = {r["name"]: r for r in json.loads((out / "results.json").read_text())["runs"]}
    assert runs["cooccurrence[window=3]"]["plugin"] == "cooccurrence"
    assert runs["cooccurrence[window=3]"]["options"] == {"window": 3, "recent": 10}


def test_disable_env_blocks_a_plugin(plugin_path):
    env = {"PYTHONPATH": str(plugin_path), "HARNESS_DISABLE_PLUGINS": "cooccurrence"}
    assert "cooccurrence" not in run_harness("plugins", env=env).stdout
    result = run_harness("evaluate", "-r", "cooccurrence", env=env)
    assert result.returncode == 2
    assert "unknown recommender 'cooccurrence'; available:" in result.stderr


def test_a_row_that_raises_is_listed_and_the_other_rows_stay(plugin_path, tmp_path):
    out = tmp_path / "out"
    result = run_harness(
        "evaluate",
        "-r",
        "popularity",
        "-r",
        "exploding-in-score",
        "-r",
        "random",
        "--users",
        "20",
        "--out",
        str(out),
        env={"PYTHONPATH": str(plugin_path)},
    )
    assert result.returncode == 1
    assert (
        "Error: row 'exploding-in-score' failed: recommender 'exploding-in-score' failed "
        "during scoring: ValueError: boom in score"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results["runs"]] == ["popularity", "random"]
    failure = results["failed_runs"][0]
    assert "ValueError: boom in score" in (out / failure["traceback"]).read_text()
    assert "Failed rows (1)" in (out / "leaderboard.md").read_text()


def test_fail_fast_stops_at_the_first_failure_with_no_output(plugin_path, tmp_path):
    out = tmp_path / "out"
    result = run_harness(
        "evaluate",
        "-r",
        "popularity",
        "-r",
        "exploding",
        "--users",
        "20",
        "--fail-fast",
        "--out",
        str(out),
        env={"PYTHONPATH": str(plugin_path)},
    )
    assert result.returncode == 1
    assert "Error: recommender 'exploding' failed during fit: RuntimeError: boom in fit" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert not list(tmp_path.glob(".out.tmp-*"))


def test_misspelled_hook_is_caught_at_load_time():
    pm = fake_plugin("typo_plugin", register_recomenders=lambda register: None)  # misspelled
    with pytest.raises(Exception, match="unknown hook 'register_recomenders'"):
        pm.check_pending()


def test_duplicate_names_from_two_plugins_are_rejected():
    def register_recommenders(register):
        register("popularity", lambda options: None)

    pm = fake_plugin("dup_plugin", register_recommenders=register_recommenders)
    with pytest.raises(
        PluginError, match="registered twice: by harness_baselines.sanity and by dup_plugin"
    ):
        collect(pm)


def test_registering_a_fake_plugin_in_process(ml100k, tmp_path, session_cache):
    """Tests may register plugins on a fresh manager, as llm and pytest do."""
    from harness_baselines.sanity import PopularityRecommender

    class Reverse(PopularityRecommender):
        def score(self, requests, context):
            return -super().score(requests, context)

    def register_recommenders(register):
        register("anti-popularity", lambda options: Reverse())

    pm = fake_plugin("reverse_plugin", register_recommenders=register_recommenders)
    experiment = Experiment(
        split=SplitConfig(users=100),
        runs=[RunSpec("popularity"), RunSpec("anti-popularity")],
    )
    results = evaluate_board(
        experiment, tmp_path / "o", cache_dir=session_cache, registry=collect(pm), progress=False
    )
    metrics = {r["name"]: r["metrics"]["ndcg@10"] for r in results["runs"]}
    assert metrics["anti-popularity"] < metrics["popularity"]
