"""What a board records about how it was made: commit, command, machine, libraries.

Enough for anyone holding a board to rerun it (``harness leaderboard
regenerate``) and to see what would make a rerun differ.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import __version__

VERSIONED = ("numpy", "scipy", "torch", "transformers", "peft", "accelerate", "pluggy")


def library_versions() -> dict[str, str]:
    """Python, the harness and the libraries whose versions can move a metric."""
    out = {"python": platform.python_version(), "harness": __version__}
    for package in VERSIONED:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_commit(folder: Path | None = None) -> dict[str, Any] | None:
    """The commit of the checkout the harness runs from (else of the working directory),
    and whether its tracked files had uncommitted changes; None outside git."""
    for where in [folder] if folder else [Path(__file__).resolve().parent, Path.cwd()]:

        def git(*args: str, where: Path = where) -> str:
            return subprocess.run(
                ["git", *args], cwd=where, capture_output=True, text=True, check=True, timeout=30
            ).stdout.strip()

        try:
            commit = git("rev-parse", "HEAD")
            dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
        except (OSError, subprocess.SubprocessError):
            continue
        return {"sha": commit, "dirty": dirty}
    return None


def machine() -> dict[str, Any]:
    """The machine's platform, processor and core count (the device is recorded per row)."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def command_line() -> str:
    """The command that made the board, as typed (best effort)."""
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])


def provenance() -> dict[str, Any]:
    """Everything above, for results.json."""
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": git_commit(),
        "command": command_line(),
        "machine": machine(),
        "versions": library_versions(),
    }
