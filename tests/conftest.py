"""Shared fixtures: an offline hub, a private cache, the embedded dataset and model loaded
once, the example plugins pip-installed once. Plain helpers live in ``helpers.py``.

Every fixture puts back what it changes: environment variables through ``monkeypatch``
(per test) or a ``MonkeyPatch`` undone when pytest ends (the hub settings), never
``os.environ[...] =``.
"""

import os
from pathlib import Path

import pytest
from helpers import (
    EXAMPLE_PLUGINS,
    pip_install,
    tiny_llama_config,
)

_session_patch = pytest.MonkeyPatch()


def pytest_configure(config):
    """The hub stays offline for the whole run (set before any test module imports it);
    the variables are restored when pytest ends."""
    _session_patch.setenv("HF_HUB_OFFLINE", "1")
    if "TOKENIZERS_PARALLELISM" not in os.environ:
        _session_patch.setenv("TOKENIZERS_PARALLELISM", "false")


def pytest_unconfigure(config):
    _session_patch.undo()


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    """One cache dir for the whole test session (splits, converted models, summaries)."""
    return tmp_path_factory.mktemp("harness-cache")


@pytest.fixture(autouse=True)
def harness_cache(session_cache, monkeypatch) -> Path:
    """Every test runs with ``HARNESS_CACHE`` at the session cache (never the user's own),
    restored after the test; a test that wants a private cache sets its own."""
    monkeypatch.setenv("HARNESS_CACHE", str(session_cache))
    return session_cache


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory) -> Path:
    """The example plugins (and one that raises), pip-installed with their entry points into
    one folder; a test puts it on ``PYTHONPATH`` of a real process (``run_harness``) or on
    ``sys.path`` with ``monkeypatch.syspath_prepend``."""
    target = tmp_path_factory.mktemp("site")
    pip_install(list(EXAMPLE_PLUGINS), target)
    return target


@pytest.fixture(scope="session")
def embedded(session_cache):
    """The embedded model in float32 on the CPU, shared by the LLM test modules."""
    from harness.llm import load_model

    return load_model(dtype="float32", device="cpu", cache_dir=session_cache)


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
