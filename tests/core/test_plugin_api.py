"""The plugin API as a third party meets it: pip-installed example plugins of every kind,
summarizer options through LLM-TRSR, answer-free requests, ``harness check-plugin``."""

import json

import numpy as np
import pytest
from helpers import FIXTURES, fake_plugin, run_cli, run_harness

from harness.boards.views import evaluate_board
from harness.errors import HarnessError, PluginError
from harness.options import build_options
from harness.orchestration.experiment import Experiment, RunSpec
from harness.plugins import collect, default_registry, get_plugin_manager
from harness.recommender import Recommender
from harness.splits import SplitConfig

JSONL = FIXTURES / "jsonl_sessions"


def trsr(tiny_model_dir, *extra: str) -> str:
    return "llm-trsr[" + ",".join([f"model={tiny_model_dir}", *extra]) + "]"


def test_summarizer_option_reaches_the_prompt(plugin_path, tiny_model_dir, tmp_path):
    """`summarizer.keep=1` is validated by the plugin's own options and changes the summary."""
    env = {"PYTHONPATH": str(plugin_path)}
    out = tmp_path / "task"
    spec = trsr(tiny_model_dir, "summarizer=last-lines", "summarizer.keep=1", "zero_shot=true")
    result = run_harness(
        "export",
        "lm-eval",
        "--users",
        "5",
        "--recommender",
        spec,
        "--out",
        str(out),
        "--task",
        "t",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    prompts = [json.loads(line)["prompt"] for line in (out / "t.jsonl").open()]
    summaries = [p.split("[Preference Summary]\n", 1)[1].split("\n[", 1)[0] for p in prompts]
    assert all(s.startswith("Most recently: ") and " | " not in s for s in summaries)

    wrong = spec.replace("summarizer.keep=1", "summarizer.kep=1")
    result = run_harness("evaluate", "--users", "5", "-r", wrong, env=env)
    assert result.returncode == 2
    assert "unknown option 'kep' for summarizer 'last-lines'" in result.stderr
    assert "valid options: keep, lead" in result.stderr


def test_summarize_and_check_plugin_take_a_third_party_summarizer(plugin_path, tiny_model_dir):
    env = {"PYTHONPATH": str(plugin_path)}
    spec = trsr(tiny_model_dir, "summarizer=last-lines", "summarizer.keep=2", "train_sequences=4")
    result = run_harness("summarize", "--users", "5", "--recommender", spec, env=env)
    assert result.returncode == 0, result.stderr
    assert "summaries (8 train, 0 valid, 5 test)" in result.stdout
    assert "the summarizer reported no LLM generations" in result.stdout

    result = run_harness("check-plugin", "last-lines[keep=2]", env=env)
    assert result.returncode == 0, result.stderr
    assert "ok   one summary per history" in result.stdout
    assert "all 3 checks passed" in result.stdout


def test_experiment_file_takes_a_nested_summarizer_table(
    plugin_path, tiny_model_dir, tmp_path, monkeypatch
):
    """The nested summarizer resolves through the run's registry: the process's own one
    (built before the plugin was on the path) does not know it."""
    default_registry.cache_clear()
    assert "last-lines" not in default_registry().names("summarizers")
    monkeypatch.syspath_prepend(str(plugin_path))
    experiment_file = tmp_path / "exp.toml"
    experiment_file.write_text(
        "[split]\nusers = 4\nnegatives = 5\n\n[[runs]]\nrecommender = 'llm-trsr'\n"
        f"options = {{ zero_shot = true, model = '{tiny_model_dir}', "
        "summarizer = { name = 'last-lines', keep = 2 } }\n"
    )
    from harness.orchestration.experiment import load_experiment

    experiment = load_experiment(experiment_file)
    try:
        registry = collect(get_plugin_manager())
        results = evaluate_board(experiment, tmp_path / "out", registry=registry, progress=False)
    finally:
        default_registry.cache_clear()
    options = results["runs"][0]["options"]
    assert options["summarizer"] == "last-lines"
    assert options["summarizer_options"] == {"keep": 2}


def test_dataset_plugin_passes_check_and_evaluates(plugin_path, tmp_path):
    env = {"PYTHONPATH": str(plugin_path)}
    result = run_harness("check-plugin", "jsonl-sessions", "--data-dir", str(JSONL), env=env)
    assert result.returncode == 0, result.stderr
    assert "ok   sequences in range" in result.stdout
    out = tmp_path / "board"
    result = run_harness(
        "evaluate",
        "--dataset",
        "jsonl-sessions",
        "--data-dir",
        str(JSONL),
        "--negatives",
        "5",
        "-r",
        "popularity",
        "--out",
        str(out),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "results.json").read_text())["dataset"]["domain"] == "products"


@pytest.mark.parametrize("spec", ["random", "popularity", "sasrec[epochs=1,hidden=16]", "ml-100k"])
def test_builtins_pass_check_plugin(spec):
    result = run_cli("check-plugin", spec, "--users", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "checks passed" in result.stdout


def test_the_example_recommender_passes_check_plugin(plugin_path):
    env = {"PYTHONPATH": str(plugin_path)}
    result = run_harness("check-plugin", "cooccurrence", "--users", "20", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "checks passed" in result.stdout


def test_llm_builtins_pass_check_plugin_on_a_tiny_model(tiny_model_dir):
    for spec in (
        f"truncated-llm[zero_shot=true,model={tiny_model_dir}]",
        f"hierarchical[model={tiny_model_dir},max_new_tokens=4]",
    ):
        result = run_cli("check-plugin", spec, "--users", "6")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "FAIL" not in result.stdout


def test_check_plugin_fails_a_plugin_that_raises(plugin_path):
    result = run_harness("check-plugin", "exploding", env={"PYTHONPATH": str(plugin_path)})
    assert result.returncode == 1
    assert "FAIL fit and score (requests carry no target): RuntimeError: boom in fit" in (
        result.stdout
    )


def test_a_plugin_cannot_read_the_target(tmp_path, session_cache):
    seen = []

    class Peeking(Recommender):
        def score(self, requests, context):
            seen.extend(requests)
            return np.array([[r.target] * len(r.candidates) for r in requests])

    def register_recommenders(register):
        register("peeking", lambda options: Peeking())

    pm = fake_plugin("peeking_plugin", register_recommenders=register_recommenders)
    experiment = Experiment(split=SplitConfig(users=5), runs=[RunSpec("peeking")])
    with pytest.raises(PluginError, match="has no attribute 'target'"):
        evaluate_board(experiment, tmp_path / "out", registry=collect(pm), progress=False)
    assert seen and not any(hasattr(r, "target") for r in seen)


def test_option_classes_run_their_parents_checks():
    registry = default_registry()
    for name in ("truncated-llm", "llm-trsr"):
        reg = registry.get("recommenders", name)
        with pytest.raises(HarnessError, match="epochs must be at least 1"):
            build_options(reg.options, {"epochs": "0"}, name)


def test_a_domain_the_prompts_do_not_know_gets_generic_wording(embedded):
    from harness_baselines.truncated_llm import TruncatedLLM, TruncatedOptions
    from llm_trsr.prompts import domain_words

    recommender = TruncatedLLM(TruncatedOptions(zero_shot=True))
    recommender.lm = embedded
    recipes, _ = recommender.prefix_and_suffix([("Recent Items", "1. soup")], "recipes")
    news, _ = recommender.prefix_and_suffix([("Recent Items", "1. soup")], "news")
    # the words themselves, written out: a test that read the table would pass any table
    assert (
        "Predict whether the user will interact with the candidate item, given the items "
        "the user interacted with. Answer yes or no." in recipes
    )
    assert (
        "Predict whether the user will click the candidate news article, given the news "
        "the user clicked. Answer yes or no." in news
    )
    assert "interact with" not in news
    words = domain_words("recipes")
    assert (words.items, words.action, words.interaction) == (
        "items",
        "interacted with",
        "interaction",
    )
    assert domain_words("news").items == "news articles"
