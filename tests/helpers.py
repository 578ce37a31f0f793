"""Plain helpers shared by the test modules (fixtures live in ``conftest.py``).

Two ways to run the command line, and only these two:

- :func:`run_cli` calls the console entry point ``harness.cli:main`` in this process,
  as a user's shell would call it (argv, exit code, stdout, stderr with the CLI's own
  log lines). It is the default: no interpreter start-up, and it can run inside a
  fixture of any scope.
- :func:`run_harness` starts the installed ``harness`` script in a real process, for
  what needs one: a process killed at a fault point, launchers (accelerate, Ray),
  plugins found through the entry points of a ``PYTHONPATH`` folder.

Both take ``env`` (variables to set; ``None`` removes one) and return
``(returncode, stdout, stderr)``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
HARNESS = str(Path(sys.executable).parent / "harness")
EXAMPLE_PLUGINS = (
    ROOT / "examples" / "harness-cooccurrence",
    ROOT / "examples" / "harness-last-lines",
    ROOT / "examples" / "harness-jsonl-sessions",
    ROOT / "examples" / "harness-likelihood",
    FIXTURES / "broken_plugin",  # plugins that raise, for the failure paths
)
# set by a test for one process only, never inherited from the shell that runs pytest
_PER_RUN = ("HARNESS_KILL_AT",)


# --- the command line ----------------------------------------------------------------


class CliResult(NamedTuple):
    """What a shell sees of one command (the field names of ``CompletedProcess``)."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def environment(env: Mapping[str, str | None] | None) -> Iterator[None]:
    """``os.environ`` with ``env`` applied (``None`` removes a name), restored afterwards."""
    saved = dict(os.environ)
    try:
        for name, value in (env or {}).items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = str(value)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _cli_logging() -> Iterator[None]:
    """Let the CLI configure logging as in a fresh process (``logging.basicConfig`` onto the
    current stderr), and put the root logger back as it was afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def run_cli(*args: str | os.PathLike, env: Mapping[str, str | None] | None = None) -> CliResult:
    """``harness ARGS...`` in this process through the console entry point."""
    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["harness", *map(str, args)]
    try:
        with (
            environment(env),
            _cli_logging(),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                main()
                code = 0
            except SystemExit as stop:
                code = _exit_code(stop.code)
    finally:
        sys.argv = argv
    return CliResult(code, out.getvalue(), err.getvalue())


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def run_harness(
    *args: str | os.PathLike,
    env: Mapping[str, str | None] | None = None,
    cwd: Path | None = None,
    timeout: float = 900,
    launcher: tuple[str, ...] = (HARNESS,),
    wait: bool = True,
) -> subprocess.CompletedProcess | subprocess.Popen:
    """``harness ARGS...`` as a real process: the installed console script (or ``launcher``,
    e.g. ``accelerate launch -m harness``). The environment is this process's with ``env``
    applied. ``wait=False`` returns the running ``Popen`` (pipes for stdout and stderr)."""
    full_env = {k: v for k, v in os.environ.items() if k not in _PER_RUN}
    for name, value in (env or {}).items():
        if value is None:
            full_env.pop(name, None)
        else:
            full_env[name] = str(value)
    command = [*launcher, *map(str, args)]
    if not wait:
        return subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
            cwd=cwd,
        )
    return subprocess.run(
        command, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout
    )


# --- plugins -------------------------------------------------------------------------


def pip_install(sources: list[Path], target: Path) -> None:
    """Install plugin distributions for real (entry points included) into ``target``, a
    folder a test puts on ``PYTHONPATH``. Each source is built from a temporary copy, so
    the checkout gets no ``build/`` or ``*.egg-info`` folders."""
    with tempfile.TemporaryDirectory() as scratch:
        copies = []
        for source in sources:
            copy = Path(scratch) / source.name
            shutil.copytree(
                source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
            )
            copies.append(str(copy))
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
            + ["--no-build-isolation", "--target", str(target), *copies],
            check=True,
        )


def fake_plugin(name: str, **hooks: Callable):
    """A fresh plugin manager (built-ins and installed plugins) with one more plugin, the
    module ``name`` implementing ``hooks`` (hook name -> function), as llm and pytest test
    their plugins. A misspelled hook name is kept as it is, for the validation tests."""
    from harness import hookimpl
    from harness.plugins import get_plugin_manager

    module = types.ModuleType(name)
    for hook, function in hooks.items():
        setattr(module, hook, hookimpl(function))
    pm = get_plugin_manager()
    pm.register(module, name=name)
    return pm


# --- models --------------------------------------------------------------------------


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


class Script:
    """A fake LLM for the summarizers: answers each prompt with a label derived from what
    it was asked (``S<first item>``, ``MERGED<...>``, ``UPD<previous+first item>``)."""

    def __init__(self, empty_for: str | None = None):
        self.calls: list[list[str]] = []
        self.empty_for = empty_for

    def __call__(self, prompts):
        self.calls.append(list(prompts))
        out = []
        for p in prompts:
            if self.empty_for and self.empty_for in p:
                out.append("   ")
            elif "Combine them" in p:
                out.append("MERGED<" + "|".join(prompt_lines(p)) + ">")
            elif "updated, complete summary" in p:
                previous = p.split("so far:\n", 1)[1].split("\n\n", 1)[0]
                out.append(f"UPD<{previous}+{first_item(p)}>")
            else:
                out.append(f"S<{first_item(p)}>")
        return out


def prompt_lines(prompt: str) -> list[str]:
    """The numbered lines of a summarization prompt, without their numbers."""
    body = prompt.split(":\n", 1)[1].split("\n\n", 1)[0]
    return [line.split(". ", 1)[1] for line in body.splitlines()]


def first_item(prompt: str) -> str:
    """The text of line ``1.`` of a prompt."""
    return prompt.split("1. ", 1)[1].split("\n", 1)[0]
