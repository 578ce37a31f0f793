"""Shared benchmark fixtures."""

import os

import pytest


@pytest.fixture(scope="module")
def lm():
    """The embedded model in ``HARNESS_BENCH_DTYPE`` (default ``auto``), weights paged in.

    A module that needs another default dtype defines its own ``lm``.
    """
    from harness.llm import generate, load_model

    lm = load_model(dtype=os.environ.get("HARNESS_BENCH_DTYPE", "auto"))
    generate(lm, ["Hi"], max_new_tokens=1, progress=False)  # page in the weights before timing
    return lm


@pytest.fixture
def report(request, capsys):
    """Print a benchmark's summary lines past pytest's output capture, under its results."""

    def write(lines: list[str]) -> None:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        with capsys.disabled():
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)

    return write
