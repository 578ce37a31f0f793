"""Write a file or a folder so that a reader (or a rerun after a kill) sees all of it or nothing.

These are the crash-safety rules the kill tests (``tests/orchestration/test_kill.py``) prove:
everything is built in a temporary sibling and renamed into place once complete.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from harness.faults import kill_point

log = logging.getLogger(__name__)

_TMP = ".tmp-"  # a temporary sibling of NAME is .NAME.tmp-PID-RANDOM


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, value: Any) -> None:
    """``value`` as indented JSON, written atomically."""
    write_bytes_atomic(path, (json.dumps(value, indent=2) + "\n").encode())


@contextmanager
def publish_folder(
    dest: Path,
    *,
    kill_at: str | None = None,
    keep: Callable[[Path], bool] | None = None,
) -> Iterator[Path]:
    """Yield an empty temporary sibling of ``dest``; on success rename it to ``dest``.

    A reader sees the old folder or the whole new one, never half of one: on any
    exception (or a kill) the temporary folder goes and ``dest`` stays as it was.
    The sibling's name carries our pid, so :func:`remove_abandoned` can tell a
    killed run's leftovers from a live run's.

    By default an existing ``dest`` is replaced: removed, then the new folder
    renamed in; ``kill_at`` names the :func:`~harness.faults.kill_point` reached
    between the two, the one moment when neither folder is there.

    With ``keep``, ``dest`` is shared by concurrent builders of the same content
    and never removed here: if another process renamed its folder there first and
    ``keep(dest)`` vouches for it, ours is dropped; otherwise the rename is tried
    once more (``keep`` may delete a folder that does not check out) and its
    error, if any, raised.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}{_TMP}{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        yield tmp
        if keep is None:
            _replace(tmp, dest, kill_at)
        else:
            _rename_unless_kept(tmp, dest, keep)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already once renamed


def _replace(tmp: Path, dest: Path, kill_at: str | None) -> None:
    if dest.exists():
        shutil.rmtree(dest)
        if kill_at is not None:
            kill_point(kill_at)
    tmp.rename(dest)


def _rename_unless_kept(tmp: Path, dest: Path, keep: Callable[[Path], bool]) -> None:
    try:
        tmp.rename(dest)
    except OSError:
        if not keep(dest):
            tmp.rename(dest)


def remove_abandoned(dest: Path) -> None:
    """Delete the temporary siblings of ``dest`` that :func:`publish_folder` runs left behind
    when killed: their process is gone, or the pid is ours (a restarted container reuses
    pids), or the name carries none."""
    dest = Path(dest)
    for tmp in dest.parent.glob(f".{dest.name}{_TMP}*"):
        pid = tmp.name.rsplit(_TMP, 1)[1].split("-", 1)[0]
        if not pid.isdigit() or not psutil.pid_exists(int(pid)) or int(pid) == os.getpid():
            log.info("removing %s, left by an interrupted run", tmp)
            shutil.rmtree(tmp, ignore_errors=True)
