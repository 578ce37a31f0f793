"""The MIND loader against its fixture, read independently with plain Python."""

import logging

import pytest
from helpers import FIXTURES

from harness.data.context import DatasetContext
from harness.data.mind import MindOptions, load_mind
from harness.data.text import render_item
from harness.errors import HarnessError
from harness.options import build_options

FIXTURE = FIXTURES / "mind"
NEWS_COLUMNS = ["id", "category", "subcategory", "title", "abstract", "url", "te", "ae"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def read_news() -> dict[str, dict[str, str]]:
    rows = [line.split("\t") for line in (FIXTURE / "news.tsv").read_text().splitlines()]
    return {row[0]: dict(zip(NEWS_COLUMNS, row)) for row in rows}


def first_histories() -> dict[str, list[str]]:
    """Each user's first row in file order, the way the paper built its sequences."""
    first: dict[str, list[str]] = {}
    for line in (FIXTURE / "behaviors.tsv").read_text().splitlines():
        _, user, _, history, _ = line.split("\t")
        first.setdefault(user, history.split())
    return first


def test_one_sequence_per_user_from_the_first_row_with_11_to_26_clicks():
    dataset = load_mind(MindOptions(), DatasetContext(FIXTURE))
    expected = {u: h for u, h in first_histories().items() if 11 <= len(h) <= 26}
    assert dataset.kind == "sessions" and dataset.domain == "news"
    assert len(dataset.catalog) == 80
    assert set(dataset.sequence_ids) == set(expected) and len(expected) == 30
    for user, sequence in zip(dataset.sequence_ids, dataset.sequences):
        assert [dataset.catalog.item_id(i) for i in sequence] == expected[user]
    # U500 has two rows; its later row has two more clicks
    assert len(dataset.sequences[dataset.sequence_ids.index("U500")]) == len(expected["U500"])


def test_item_text_follows_the_paper_fields_and_keeps_quotes():
    dataset = load_mind(MindOptions(), DatasetContext(FIXTURE))
    news = read_news()
    for index, item_id in enumerate(dataset.catalog.ids):
        fields = ["category", "subcategory", "title"]
        assert dataset.catalog.text(index) == render_item(news[item_id], fields)
    quoted = dataset.catalog.text(dataset.catalog.index("N1000"))
    assert quoted.startswith("category: ") and '"Season' in quoted and "said 'yes'" in quoted


def test_fields_order_and_word_cap_are_options():
    options = build_options(
        MindOptions, {"fields": "title|abstract", "max_words": "2"}, "dataset 'mind'"
    )
    dataset = load_mind(options, DatasetContext(FIXTURE))
    news = read_news()
    with_abstract = next(i for i, row in news.items() if row["abstract"])
    without = next(i for i, row in news.items() if not row["abstract"])
    text = dataset.catalog.text(dataset.catalog.index(with_abstract))
    assert text == render_item(news[with_abstract], ["title", "abstract"], 2)
    assert text.count(";") == 1 and len(text.split("; ")[1].split()) == 3  # "abstract:" + 2
    assert "abstract" not in dataset.catalog.text(dataset.catalog.index(without))


def test_history_bounds_are_options():
    dataset = load_mind(MindOptions(min_history=4, max_history=9), DatasetContext(FIXTURE))
    lengths = {len(h) for h in first_histories().values() if 5 <= len(h) <= 10}
    assert {len(s) for s in dataset.sequences} == lengths == {5, 10}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"fields": "title|body"}, "unknown field(s) body for news.tsv"),
        ({"min_history": "0"}, "min_history must be at least 1"),
        ({"min_history": "9", "max_history": "3"}, "max_history (3) is below min_history (9)"),
        ({"max_words": "0"}, "max_words must be at least 1"),
    ],
)
def test_bad_options_are_one_line_errors(raw, message):
    with pytest.raises(HarnessError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        build_options(MindOptions, raw, "dataset 'mind'")


def test_second_load_comes_from_the_cache(caplog):
    first = load_mind(MindOptions(), DatasetContext(FIXTURE))
    with caplog.at_level(logging.INFO, logger="harness.data.cache"):
        second = load_mind(MindOptions(), DatasetContext(FIXTURE))
    assert "loaded mind from cache" in caplog.text
    assert second.fingerprint() == first.fingerprint()
    assert second.catalog.texts(range(5)) == first.catalog.texts(range(5))


def test_release_subfolder_is_pointed_at(tmp_path):
    (tmp_path / "MINDsmall_train").mkdir()
    for name in ("news.tsv", "behaviors.tsv"):
        (tmp_path / "MINDsmall_train" / name).write_text("")
    with pytest.raises(HarnessError, match="pass --data-dir .*MINDsmall_train"):
        load_mind(MindOptions(), DatasetContext(tmp_path))
