"""Named points where a test may kill the process, to prove every write is atomic.

``HARNESS_KILL_AT=NAME`` makes the process SIGKILL itself when it reaches the
point ``NAME`` (no cleanup runs, exactly as with ``kill -9``). The kill tests
use it to stop ``harness evaluate`` while a split, a dataset cache, a row
checkpoint or the output folder is half-written, and check that the rerun
never reads the half-written file and finishes with the same metrics.
"""

from __future__ import annotations

import os
import signal

KILL_ENV = "HARNESS_KILL_AT"


def kill_point(name: str) -> None:
    """SIGKILL this process if ``HARNESS_KILL_AT`` names this point."""
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
