"""The dataset cache: built once, keyed by sources and options, never read half-written."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from helpers import FIXTURES

from harness.data.cache import ItemWriter, load_or_build, write_sequences
from harness.data.context import DatasetContext
from harness.data.mind import MindOptions, load_mind
from harness.errors import HarnessError

MIND = FIXTURES / "mind"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "datasets"


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "source.txt"
    path.write_text("v1")
    return path


def toy_build(calls: list):
    def build(folder: Path) -> dict:
        calls.append(folder)
        writer = ItemWriter(folder)
        writer.write(pa.array(["a", "b", "c"]), pa.array(["text a", "text b", "text c"]))
        writer.close()
        write_sequences(
            folder, pa.array(["s1", "s2"]), np.array([0, 2, 5]), np.array([0, 1, 2, 1, 0])
        )
        return {"name": "toy", "domain": "products", "kind": "sessions", "warnings": ["toy note"]}

    return build


def test_built_once_then_read(cache, source, caplog):
    calls: list = []
    first = load_or_build("toy", [source], {"k": 1}, toy_build(calls))
    with caplog.at_level(logging.WARNING):
        second = load_or_build("toy", [source], {"k": 1}, toy_build(calls))
    assert len(calls) == 1
    assert "toy note" in caplog.text  # warnings are repeated on every cached load
    assert [s.tolist() for s in second.sequences] == [[0, 1], [2, 1, 0]]
    assert second.catalog.text(1) == "text b" and second.catalog.index("c") == 2
    assert first.fingerprint() == second.fingerprint()
    assert [p.name for p in cache.iterdir()] == [Path(second.source["cache"]).name]


def test_options_and_source_changes_give_a_new_cache(cache, source):
    calls: list = []
    load_or_build("toy", [source], {"k": 1}, toy_build(calls))
    load_or_build("toy", [source], {"k": 2}, toy_build(calls))
    source.write_text("v2 longer")
    load_or_build("toy", [source], {"k": 1}, toy_build(calls))
    os.utime(source, ns=(0, 12345))
    load_or_build("toy", [source], {"k": 1}, toy_build(calls))
    assert len(calls) == 4 and len(list(cache.iterdir())) == 4


def test_failed_build_leaves_nothing(cache, source):
    def build(folder: Path) -> dict:
        (folder / "items.arrow").write_bytes(b"partial")
        raise HarnessError("bad row")

    with pytest.raises(HarnessError, match="bad row"):
        load_or_build("toy", [source], {}, build)
    assert list(cache.iterdir()) == []


@pytest.mark.parametrize("damage", ["no marker", "truncated", "garbage", "other key"])
def test_damaged_cache_is_rebuilt_not_read(cache, source, damage, caplog):
    calls: list = []
    dataset = load_or_build("toy", [source], {}, toy_build(calls))
    folder = Path(dataset.source["cache"])
    del dataset
    if damage == "no marker":
        (folder / "complete.json").unlink()
    elif damage == "truncated":
        data = (folder / "sequences.arrow").read_bytes()
        (folder / "sequences.arrow").write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        size = (folder / "items.arrow").stat().st_size
        (folder / "items.arrow").write_bytes(b"\0" * size)
    else:
        marker = json.loads((folder / "complete.json").read_text())
        (folder / "complete.json").write_text(json.dumps({**marker, "key": "0" * 64}))
    with caplog.at_level(logging.WARNING):
        again = load_or_build("toy", [source], {}, toy_build(calls))
    assert len(calls) == 2 and "rebuilding" in caplog.text
    assert again.catalog.ids == ["a", "b", "c"]


CHILD = """
import sys, time
from pathlib import Path
import pyarrow as pa
from harness.data.cache import ItemWriter, load_or_build

def build(folder):
    writer = ItemWriter(folder)
    writer.write(pa.array(["a"]), pa.array(["half"]))
    Path(sys.argv[2]).write_text(str(folder))
    time.sleep(60)

load_or_build("mind", [Path(sys.argv[1])], {}, build)
"""


def test_cache_of_a_killed_run_is_ignored_and_cleaned(cache, source, tmp_path):
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(source), str(ready)])
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the child never started building"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    half = Path(ready.read_text())
    assert half.exists() and [p for p in cache.iterdir() if not p.name.startswith(".")] == []
    calls: list = []
    dataset = load_or_build("mind", [source], {}, toy_build(calls))
    assert len(calls) == 1 and len(dataset.catalog) == 3
    assert not half.exists()  # the dead run's temporary folder was removed


def test_mind_cache_changes_with_the_loader_options(cache):
    load_mind(MindOptions(), DatasetContext(MIND))
    load_mind(MindOptions(max_words=3), DatasetContext(MIND))
    assert len(list(cache.iterdir())) == 2
