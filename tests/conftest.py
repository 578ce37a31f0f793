"""Shared fixtures: offline hub, a private cache, the embedded dataset loaded once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HARNESS = str(Path(sys.executable).parent / "harness")


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


@pytest.fixture(scope="session")
def ml100k():
    from harness.data.embedded import MovieLensOptions, load_ml_100k

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
