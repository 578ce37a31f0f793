"""Shared fixtures: offline hub, a private cache, the embedded dataset loaded once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HARNESS = str(Path(sys.executable).parent / "harness")
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PLUGINS = (
    "harness-cooccurrence",
    "harness-last-lines",
    "harness-jsonl-sessions",
    "harness-likelihood",
)


def pip_install_target(source: Path, target: Path) -> None:
    """Install a plugin distribution for real, into a folder put on PYTHONPATH."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
    )


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory) -> Path:
    """The example plugins (and one that raises), pip-installed with their entry points."""
    target = tmp_path_factory.mktemp("site")
    for example in EXAMPLE_PLUGINS:
        pip_install_target(ROOT / "examples" / example, target)
    pip_install_target(ROOT / "tests" / "fixtures" / "broken_plugin", target)
    return target


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One cache dir for the whole test session (splits, converted models, summaries)."""
    path = tmp_path_factory.mktemp("harness-cache")
    os.environ["HARNESS_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def embedded(session_cache):
    """The embedded model in float32 on the CPU, shared by the LLM test modules."""
    from harness.llm import load_model

    return load_model(dtype="float32", device="cpu", cache_dir=session_cache)


def tiny_llama_config(tokenizer, **overrides):
    """A random 2-layer Llama's config for ``tokenizer``: the one tiny model of the tests."""
    from transformers import LlamaConfig

    settings = dict(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    return LlamaConfig(**{**settings, **overrides})


@pytest.fixture(scope="session")
def tiny_model_dir(embedded, tmp_path_factory) -> Path:
    """A random 2-layer Llama saved with the embedded tokenizer: for wiring tests through
    the CLI (``model=PATH``) that must not pay for the real weights."""
    import torch
    from transformers import LlamaForCausalLM

    tokenizer = embedded.tokenizer
    config = tiny_llama_config(tokenizer)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def ml100k():
    from harness.data.embedded_dataset import MovieLensOptions, load_ml_100k

    return load_ml_100k(MovieLensOptions())


def run_harness(*args: str, env: dict | None = None, cwd: Path | None = None):
    """Run the installed ``harness`` console script, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [HARNESS, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=900
    )


@pytest.fixture
def harness_cli(session_cache):
    def run(*args: str, env: dict | None = None, cwd: Path | None = None):
        return run_harness(*args, env={"HARNESS_CACHE": str(session_cache), **(env or {})}, cwd=cwd)

    return run


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The console entry point in-process, as a user calls it: (exit code, stdout, stderr)."""
    from harness.cli import main

    monkeypatch.setattr(sys, "argv", ["harness", *args])
    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err
