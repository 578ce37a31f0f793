"""Errors that end a run with a one-line message instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class HarnessError(Exception):
    """Bad input or a usage mistake: the CLI prints the message and exits with code 2."""

    exit_code = 2


class PluginError(HarnessError):
    """A plugin raised while registering, fitting or scoring: exit code 1."""

    exit_code = 1


@contextmanager
def plugin_errors(what: str) -> Iterator[None]:
    """Turn an exception raised by plugin code into a one-line :class:`PluginError`.

    ``what`` names the plugin and the step (``"recommender 'x' failed during fit"``);
    a :class:`HarnessError` (bad input the plugin reported itself) passes unchanged.
    """
    try:
        yield
    except HarnessError:
        raise
    except Exception as exc:
        raise PluginError(f"{what}: {type(exc).__name__}: {exc}") from exc
