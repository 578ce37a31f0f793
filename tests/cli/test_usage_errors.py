"""Every class of bad input: one line, exit 2, before any row trains (the CLI in-process)."""

import dataclasses
import types
import typing
from pathlib import Path

import pytest
from helpers import run_cli

from harness.errors import HarnessError
from harness.orchestration.experiment import RunSpec
from harness.orchestration.runner import prepare_runs
from harness.plugins import default_registry

GOOD_RUN = "[[runs]]\nrecommender = 'random'\n"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


CASES = {
    "experiment file and -r": (
        lambda d: ["evaluate", write(d, "e.toml", GOOD_RUN), "-r", "random"],
        "give either an experiment file or --recommender",
    ),
    "missing experiment file": (
        lambda d: ["evaluate", str(d / "nope.toml")],
        "experiment file not found",
    ),
    "invalid TOML": (lambda d: ["evaluate", write(d, "e.toml", "[[runs]\n")], "invalid TOML"),
    "unknown top-level key": (
        lambda d: ["evaluate", write(d, "e.toml", "colour = 1\n" + GOOD_RUN)],
        "unknown key(s) colour",
    ),
    "unknown [split] key": (
        lambda d: ["evaluate", write(d, "e.toml", "[split]\nusrs = 5\n" + GOOD_RUN)],
        "unknown [split] key(s) usrs",
    ),
    "bad [split] value": (
        lambda d: ["evaluate", write(d, "e.toml", "[split]\nusers = 'many'\n" + GOOD_RUN)],
        "bad value 'many' for option 'users'",
    ),
    "sweep of two keys": (
        lambda d: [
            "evaluate",
            write(d, "e.toml", GOOD_RUN + "sweep = { a = [1], b = [2] }\n"),
        ],
        "sweep takes exactly one key",
    ),
    "sweep not a list": (
        lambda d: ["evaluate", write(d, "e.toml", GOOD_RUN + "sweep = { a = 1 }\n")],
        "sweep.a must be a list",
    ),
    "unclosed spec": (lambda d: ["evaluate", "-r", "x["], "cannot parse spec 'x['"),
    "summarize a row with nothing to precompute": (
        lambda d: ["summarize", "--users", "5", "--recommender", "truncated-llm"],
        "'truncated-llm' has nothing to precompute",
    ),
    "export lm-eval of a row without prompts": (
        lambda d: [
            "export",
            "lm-eval",
            "--users",
            "5",
            "--out",
            str(d / "t"),
            "--recommender",
            "popularity",
        ],
        "'popularity' does not score yes/no prompts",
    ),
    "unknown split protocol": (
        lambda d: ["evaluate", write(d, "e.toml", "[split]\nprotocol = 'calendar'\n" + GOOD_RUN)],
        "protocol",
    ),
    "cut without global-time": (
        lambda d: ["evaluate", write(d, "e.toml", "[split]\nvalid_time = 0.5\n" + GOOD_RUN)],
        "valid_time/test_time need protocol='global-time'",
    ),
    "cut after the data": (
        lambda d: [
            "evaluate",
            write(d, "e.toml", "[split]\nprotocol = 'global-time'\ntest_time = 2e9\n" + GOOD_RUN),
        ],
        "split option test_time=2000000000.0: cut 2e+09 is outside the data's time range",
    ),
    "cuts in the wrong order": (
        lambda d: [
            "evaluate",
            write(
                d,
                "e.toml",
                "[split]\nprotocol = 'global-time'\nvalid_time = 0.9\ntest_time = 0.5\n" + GOOD_RUN,
            ),
        ],
        "the validation cut (",
    ),
    "history 0": (
        lambda d: ["evaluate", "-r", "random", "--history", "0"],
        "split option history=0: must be at least 1",
    ),
    # the same check from a file names the file and its table, not a command-line flag
    "[split] history 0": (
        lambda d: ["evaluate", write(d, "e.toml", "[split]\nhistory = 0\n" + GOOD_RUN)],
        "e.toml [split]: split option history=0: must be at least 1",
    ),
    "misspelt device": (
        lambda d: ["evaluate", "-r", "random", "--device", "gpu"],
        "device must be auto, cpu, cuda or cuda:N, got 'gpu'",
    ),
    "negatives 0": (
        lambda d: ["evaluate", "-r", "random", "--negatives", "0"],
        "split option negatives=0",
    ),
    "unknown recommender": (lambda d: ["evaluate", "-r", "nope"], "unknown recommender 'nope'"),
    "unknown dataset": (
        lambda d: ["evaluate", "-r", "random", "--dataset", "nope"],
        "unknown dataset 'nope'",
    ),
    "results file not JSON": (
        lambda d: ["leaderboard", write(d, "r.json", "{nope")],
        "not JSON",
    ),
    "results file of another shape": (
        lambda d: ["leaderboard", write(d, "r.json", '{"runs": []}')],
        "not a harness results file",
    ),
    "bad summarizer template": (
        lambda d: ["evaluate", "-r", "llm-trsr[summarizer.block_template=no fields]"],
        "block_template must contain {lines}",
    ),
    "unknown summarizer": (
        lambda d: ["evaluate", "-r", "llm-trsr[summarizer=nope]"],
        "unknown summarizer 'nope'",
    ),
    "epochs 0 of truncated-llm": (
        lambda d: ["evaluate", "-r", "truncated-llm[epochs=0]"],
        "epochs must be at least 1",
    ),
    "train_sequences 0": (
        lambda d: ["evaluate", "-r", "llm-trsr[train_sequences=0]"],
        "train_sequences must be at least 1",
    ),
    "missing model folder": (
        lambda d: ["evaluate", "-r", "truncated-llm[model=./no-such-model]"],
        "is not a folder and cannot be fetched",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_exit_2(case, tmp_path):
    make_args, message = CASES[case]
    args = make_args(tmp_path)
    if args[0] == "evaluate":
        args += ["--out", str(tmp_path / "o")]
    code, _, err = run_cli(*args)
    assert code == 2, err
    errors = [line for line in err.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_a_bad_option_of_the_last_row_fails_before_the_first_row(tmp_path):
    code, _, err = run_cli(
        "evaluate",
        "-r",
        "sasrec",
        "-r",
        "llm-trsr[summarizer=recurrent,lora_alpha=0]",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 2 and "lora_alpha must be at least 1" in err
    # stderr carries the CLI's log lines: no dataset was loaded, no row started
    assert "loading dataset" not in err and "[1/2]" not in err


def _bad_value(annotation) -> str | None:
    """A value of the wrong type for an option field, or None where any string fits."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return "nonsense-choice"
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _bad_value(inner[0]) if len(inner) == 1 else None
    return {int: "x", float: "x", bool: "maybe"}.get(annotation)


def test_one_bad_value_for_every_option_of_every_recommender():
    registry = default_registry()
    checked = 0
    for name in registry.names("recommenders"):
        reg = registry.get("recommenders", name)
        if reg.options is None:
            continue
        hints = typing.get_type_hints(reg.options)
        for field in dataclasses.fields(reg.options):
            bad = _bad_value(hints[field.name])
            if bad is None:
                continue
            with pytest.raises(HarnessError, match=f"option {field.name!r}"):
                prepare_runs([RunSpec(name, {field.name: bad})], registry)
            checked += 1
    assert checked >= 60  # 60 typed options across the built-in recommenders today
