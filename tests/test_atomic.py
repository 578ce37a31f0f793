from pathlib import Path

import pytest

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
