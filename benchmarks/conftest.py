"""Shared benchmark fixtures."""

import pytest


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
