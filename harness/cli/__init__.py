"""The ``harness`` command line: one module per command group, registered on import."""

from __future__ import annotations

import sys

import click

from harness.cli import datasets, evaluate, export, leaderboard, plugins, summarize  # noqa: F401
from harness.cli.group import cli
from harness.errors import HarnessError
from harness.plugins import get_plugin_manager

__all__ = ["cli", "main"]


def main() -> None:
    """Console entry point: one-line errors and exit codes instead of tracebacks."""
    pm = get_plugin_manager_safely()
    if pm is not None:
        pm.hook.register_commands(cli=cli)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except HarnessError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)


def get_plugin_manager_safely():
    try:
        return get_plugin_manager()
    except HarnessError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
