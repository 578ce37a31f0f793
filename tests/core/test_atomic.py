"""RecBole atomic files, and publishing a folder atomically (:mod:`harness.atomic`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import harness.atomic as atomic
from harness.atomic import publish_folder, remove_abandoned
from harness.data.recbole import load_atomic_dataset, load_catalog
from harness.errors import HarnessError

ITEMS = "item_id:token\ttitle:token_seq\tyear:token\n1\tAlpha\t1990\n2\tBeta\t1991\n3\tGamma\t\n"


def _write(tmp_path: Path, inter: str, items: str = ITEMS) -> tuple[Path, Path]:
    (tmp_path / "d.inter").write_text(inter)
    (tmp_path / "d.item").write_text(items)
    return tmp_path / "d.inter", tmp_path / "d.item"


def _load(tmp_path, inter, items=ITEMS, **kw):
    inter_path, item_path = _write(tmp_path, inter, items)
    return load_atomic_dataset("d", inter_path, item_path, "movies", **kw)


HEADER = "user_id:token\titem_id:token\ttimestamp:float\n"


def test_ties_break_by_file_order_and_text_skips_missing_fields(tmp_path):
    ds = _load(tmp_path, HEADER + "u\t2\t5\nu\t3\t5\nu\t1\t4\n")
    assert [ds.catalog.item_id(i) for i in ds.sequences[0]] == ["1", "2", "3"]
    assert ds.catalog.text(0) == "title: Alpha; year: 1990"
    assert ds.catalog.text(2) == "title: Gamma"


@pytest.mark.parametrize(
    ("inter", "message"),
    [
        (
            "user_id:token\titem_id\ttimestamp:float\n",
            r"d.inter:1: header field 2 'item_id' is not name:type",
        ),
        (
            "user_id:token\titem_id:token\n",
            r"d.inter:1: header lacks required field\(s\) timestamp",
        ),
        (HEADER + "u\t1\t5\nu\t2\n", r"d.inter:3: expected 3 tab-separated columns, found 2"),
        (HEADER + "u\t1\tyesterday\n", r"d.inter:2: timestamp 'yesterday' is not a number"),
        (HEADER + "u\t9\t5\n", r"d.inter:2: item '9' is not in the catalog"),
        ("", r"d.inter:1: empty file"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, inter, message):
    with pytest.raises(HarnessError, match=message):
        _load(tmp_path, inter)


def test_unknown_items_can_be_dropped(tmp_path):
    ds = _load(tmp_path, HEADER + "u\t9\t5\nu\t1\t6\n", unknown_items="drop")
    assert len(ds.sequences[0]) == 1
    assert ds.source["dropped_unknown_items"] == "1"


def test_non_utf8_byte_is_reported(tmp_path):
    path = tmp_path / "bad.item"
    path.write_bytes(b"item_id:token\ttitle:token_seq\n1\tCaf\xe9\n")
    with pytest.raises(HarnessError, match=r"bad.item:2: not valid UTF-8"):
        load_catalog(path)


def test_missing_file(tmp_path):
    with pytest.raises(HarnessError, match="file not found"):
        load_catalog(tmp_path / "nope.item")


def test_embedded_ml100k_is_complete(ml100k):
    assert len(ml100k.catalog) == 1682
    assert len(ml100k.sequences) == 943
    assert ml100k.n_interactions == 100000
    assert ml100k.catalog.text(0).startswith("movie_title: Toy Story; release_year: 1995")


# --- publish_folder: a folder appears whole or not at all -----------------------------------


def _siblings(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.parent.iterdir())


def test_published_folder_appears_whole_and_no_temporary_is_left(tmp_path):
    dest = tmp_path / "deep" / "board"
    with publish_folder(dest) as tmp:
        assert tmp.parent == dest.parent and tmp.name.startswith(f".board.tmp-{os.getpid()}-")
        (tmp / "a.txt").write_text("new")
        assert not dest.exists()  # nothing at dest until the block ends
    assert _siblings(dest) == ["board"] and (dest / "a.txt").read_text() == "new"


def test_an_exception_leaves_the_old_folder_and_no_temporary(tmp_path):
    dest = tmp_path / "board"
    dest.mkdir()
    (dest / "a.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt), publish_folder(dest) as tmp:
        (tmp / "a.txt").write_text("half")
        raise KeyboardInterrupt
    assert _siblings(dest) == ["board"] and (dest / "a.txt").read_text() == "old"


def test_an_old_folder_is_replaced_whole_with_the_kill_point_in_between(tmp_path, monkeypatch):
    dest = tmp_path / "board"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    seen = []
    monkeypatch.setattr(atomic, "kill_point", lambda name: seen.append((name, _siblings(dest))))
    with publish_folder(dest, kill_at="rename") as tmp:
        (tmp / "new.txt").write_text("new")
    assert seen == [("rename", [tmp.name])]  # the old one removed, the new one not yet in place
    assert sorted(p.name for p in dest.iterdir()) == ["new.txt"]
    seen.clear()
    with publish_folder(tmp_path / "fresh", kill_at="rename"):
        pass
    assert seen == []  # nothing to remove: no moment without a folder


@pytest.mark.parametrize("theirs_checks_out", [True, False])
def test_a_shared_folder_published_first_by_another_run(tmp_path, theirs_checks_out):
    dest = tmp_path / "cache"

    def keep(folder: Path) -> bool:
        if not theirs_checks_out:
            (folder / "theirs.txt").unlink()
            folder.rmdir()  # as the dataset cache does with one that does not check out
        return theirs_checks_out

    with publish_folder(dest, keep=keep) as tmp:
        (tmp / "ours.txt").write_text("ours")
        dest.mkdir()  # the other run renames its folder in first
        (dest / "theirs.txt").write_text("theirs")
    winner = "theirs.txt" if theirs_checks_out else "ours.txt"
    assert _siblings(dest) == ["cache"] and [p.name for p in dest.iterdir()] == [winner]


def test_a_shared_folder_that_neither_checks_out_nor_goes_is_an_error(tmp_path):
    dest = tmp_path / "cache"
    with pytest.raises(OSError), publish_folder(dest, keep=lambda folder: False) as tmp:
        (tmp / "ours.txt").write_text("ours")
        dest.mkdir()
        (dest / "theirs.txt").write_text("theirs")
    assert _siblings(dest) == ["cache"] and [p.name for p in dest.iterdir()] == ["theirs.txt"]


def test_only_the_temporaries_of_dead_runs_are_removed(tmp_path):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()  # its pid now belongs to no process
    dest = tmp_path / "cache"
    names = {
        "dead": f".cache.tmp-{finished.pid}-ab",
        "ours": f".cache.tmp-{os.getpid()}-ab",  # a restarted container reuses pids
        "unnamed": ".cache.tmp-xyz",
        "live": f".cache.tmp-{os.getppid()}-ab",
        "other": f".other.tmp-{finished.pid}-ab",
    }
    for name in names.values():
        (tmp_path / name).mkdir()
    remove_abandoned(dest)
    assert _siblings(dest) == sorted([names["live"], names["other"]])
