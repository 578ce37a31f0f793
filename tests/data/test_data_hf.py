"""The ``hf`` dataset: local files through HF ``datasets`` with a column mapping."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from helpers import run_cli

from harness.data.context import DatasetContext
from harness.data.hf import HFOptions, load_hf
from harness.errors import HarnessError
from harness.orchestration.row_scores import read_row_scores


@pytest.fixture(scope="module")
def ml100k_files(ml100k, tmp_path_factory):
    """ml-100k's own atomic files, rewritten as a ratings CSV and a movies Parquet file."""
    source = ml100k.source
    folder = tmp_path_factory.mktemp("hf-files")
    read = pacsv.ReadOptions()
    parse = pacsv.ParseOptions(delimiter="\t", quote_char=False)
    strings = pacsv.ConvertOptions(
        column_types={"item_id:token": pa.string(), "release_year:token": pa.string()}
    )
    inter = pacsv.read_csv(source["inter"], read, parse)
    inter = inter.rename_columns([c.split(":")[0] for c in inter.column_names])
    pacsv.write_csv(inter, folder / "ratings.csv")
    items = pacsv.read_csv(source["item"], read, parse, strings)
    items = items.rename_columns([c.split(":")[0] for c in items.column_names])
    pq.write_table(items, folder / "movies.parquet")
    return folder


def test_same_sequences_and_texts_as_the_atomic_loader(ml100k, ml100k_files, tmp_path):
    options = HFOptions(
        interactions=str(ml100k_files / "ratings.csv"),
        items=str(ml100k_files / "movies.parquet"),
        text=("movie_title", "release_year", "class"),
        domain="movies",
    )
    dataset = load_hf(options, DatasetContext(cache_dir=tmp_path, progress=False))
    assert dataset.catalog.ids == ml100k.catalog.ids
    assert [dataset.catalog.text(i) for i in range(50)] == [
        ml100k.catalog.text(i) for i in range(50)
    ]
    ours = dict(zip(dataset.sequence_ids, dataset.sequences))
    theirs = dict(zip(ml100k.sequence_ids, ml100k.sequences))
    assert ours.keys() == theirs.keys()
    for user, sequence in theirs.items():
        np.testing.assert_array_equal(ours[user], sequence)
    assert (tmp_path / "hf-datasets").is_dir()  # datasets' own Arrow cache, under ours


@pytest.fixture
def small_csvs(tmp_path):
    """Ten users, forty items, in two CSV files with non-default column names."""
    rng = np.random.default_rng(0)
    rows = ["uid,iid,when"]
    for user in range(10):
        for step, item in enumerate(rng.choice(40, size=8, replace=False)):
            rows.append(f"u{user},m{item},{100 * user + step}")
    (tmp_path / "clicks.csv").write_text("\n".join(rows) + "\n")
    items = ["iid,title,genre"] + [f"m{i},Movie {i},genre {i % 4}" for i in range(40)]
    (tmp_path / "items.csv").write_text("\n".join(items) + "\n")
    return tmp_path


def spec(folder, **extra):
    options = {
        "interactions": folder / "clicks.csv",
        "items": folder / "items.csv",
        "user": "uid",
        "item": "iid",
        "timestamp": "when",
        "text": "title|genre",
        **extra,
    }
    return "hf[" + ",".join(f"{k}={v}" for k, v in options.items()) + "]"


def test_evaluate_popularity_and_sasrec_on_local_csv_files(small_csvs, tmp_path):
    out = tmp_path / "board"
    result = run_cli(
        "evaluate",
        "--dataset",
        spec(small_csvs),
        "--negatives",
        "5",
        "-r",
        "popularity",
        "-r",
        "sasrec[epochs=2,hidden=16]",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["split"]["test_requests"] == 10
    assert [r["recommender"] for r in results["runs"]] == ["popularity", "sasrec"]
    assert all(0 <= r["metrics"]["ndcg@10"] <= 1 for r in results["runs"])
    first = json.loads((out / "split.json").read_text())["test"][0]
    assert first["id"] == "u0" and first["target"].startswith("m")
    assert read_row_scores(out / "scores" / "popularity.npz")["scores"].shape == (10, 6)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"user": "who"}, "no column 'who' for user="),
        ({"text": "title|plot"}, "no column 'plot' for text"),
        ({"items": "missing.csv"}, "missing.csv: no such file"),
    ],
)
def test_bad_mapping_is_one_line_naming_column_and_file(small_csvs, tmp_path, extra, message):
    if "items" in extra:
        extra = {"items": small_csvs / extra["items"]}
    out = tmp_path / "board"
    result = run_cli(
        "evaluate", "--dataset", spec(small_csvs, **extra), "-r", "popularity", "--out", str(out)
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_unknown_item_names_the_row(small_csvs, tmp_path):
    with (small_csvs / "clicks.csv").open("a") as handle:
        handle.write("u3,nope,999\n")
    options = HFOptions(
        interactions=str(small_csvs / "clicks.csv"),
        items=str(small_csvs / "items.csv"),
        user="uid",
        item="iid",
        timestamp="when",
    )
    with pytest.raises(HarnessError, match=r"clicks.csv row 81: item 'nope'"):
        load_hf(options, DatasetContext(cache_dir=tmp_path, progress=False))
    dropped = load_hf(
        HFOptions(**{**options.__dict__, "unknown_items": "drop"}),
        DatasetContext(cache_dir=tmp_path, progress=False),
    )
    assert sum(len(s) for s in dropped.sequences) == 80


def test_export_split_as_a_datasetdict_holds_our_candidates(ml100k, tmp_path):
    import datasets

    from harness.splits import SplitConfig, build_split

    out = tmp_path / "split"
    result = run_cli("export", "split", "--users", "12", str(out))
    assert result.returncode == 0, result.stderr
    exported = datasets.load_from_disk(str(out))
    split = build_split(ml100k, SplitConfig(users=12))
    identity = json.loads((out / "split.json").read_text())
    assert identity["sha256"] == split.sha256
    ids = ml100k.catalog.ids
    assert exported["test"]["candidates"] == [[ids[i] for i in r.candidates] for r in split.test]
    assert exported["test"]["target"] == [ids[r.target] for r in split.test]
    assert len(exported["train"]) == len(split.train)
    assert exported["catalog"][0]["text"] == ml100k.catalog.text(0)
