"""Errors that end a run with a one-line message instead of a traceback."""


class HarnessError(Exception):
    """Bad input or a usage mistake: the CLI prints the message and exits with code 2."""

    exit_code = 2


class PluginError(HarnessError):
    """A plugin raised while registering, fitting or scoring: exit code 1."""

    exit_code = 1
