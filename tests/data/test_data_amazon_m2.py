"""The Amazon-M2 loader against its fixture, read independently with the csv module."""

import csv
import re

import pytest
from helpers import FIXTURES

from harness.data.amazon_m2 import DEFAULT_MAX_WORDS, AmazonM2Options, load_amazon_m2
from harness.data.context import DatasetContext
from harness.data.text import render_item

FIXTURE = FIXTURES / "amazon_m2"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))


def read_csv(name: str) -> list[dict[str, str]]:
    with (FIXTURE / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def sessions(locale: str) -> dict[str, list[str]]:
    """``session-N`` (N the 1-based data row) -> prev_items + [next_item]."""
    out = {}
    for number, row in enumerate(read_csv("sessions_train.csv"), start=1):
        if row["locale"] == locale:
            out[f"session-{number}"] = re.findall(r"'([^']+)'", row["prev_items"]) + [
                row["next_item"]
            ]
    return out


def products(locale: str) -> dict[str, dict[str, str]]:
    return {r["id"]: r for r in read_csv("products_train.csv") if r["locale"] == locale}


@pytest.mark.parametrize("locale", ["UK", "DE"])
def test_sessions_of_one_locale_with_10_to_25_previous_items(locale):
    dataset = load_amazon_m2(AmazonM2Options(locale=locale), DatasetContext(FIXTURE))
    expected = {k: v for k, v in sessions(locale).items() if 10 <= len(v) - 1 <= 25}
    assert dataset.kind == "sessions" and dataset.domain == "products"
    assert set(dataset.catalog.ids) == set(products(locale))
    assert set(dataset.sequence_ids) == set(expected)
    for sid, sequence in zip(dataset.sequence_ids, dataset.sequences):
        assert [dataset.catalog.item_id(i) for i in sequence] == expected[sid]
    if locale == "UK":
        assert len(dataset.catalog) == 120 and len(dataset.sequences) == 36
        assert len(sessions("UK")) - len(expected) == 6  # 1, 1, 3, 9, 26 and 30 previous items


def test_products_are_keyed_by_id_and_locale():
    uk = load_amazon_m2(AmazonM2Options(), DatasetContext(FIXTURE))
    de = load_amazon_m2(AmazonM2Options(locale="DE"), DatasetContext(FIXTURE))
    shared = sorted(set(products("UK")) & set(products("DE")))
    assert len(shared) == 20
    for item in shared:
        uk_text = uk.catalog.text(uk.catalog.index(item))
        de_text = de.catalog.text(de.catalog.index(item))
        assert uk_text != de_text
        assert uk_text == render_item(products("UK")[item], AmazonM2Options().fields, 50)


def test_item_text_fields_missing_values_and_the_word_cap():
    dataset = load_amazon_m2(AmazonM2Options(), DatasetContext(FIXTURE))
    rows = products("UK")
    texts = {item: dataset.catalog.text(dataset.catalog.index(item)) for item in rows}
    no_brand = next(i for i, r in rows.items() if not r["brand"])
    assert "brand:" not in texts[no_brand] and texts[no_brand].startswith("title: ")
    quoted = next(i for i, r in rows.items() if '"Pro"' in r["title"])
    assert '12" Screen, "Pro" Edition' in texts[quoted]
    newline = next(i for i, r in rows.items() if "\n" in r["desc"])
    assert 'desc: First line, with "quotes". Second line' in texts[newline]
    long = next(i for i, r in rows.items() if len(r["desc"].split()) > 300)
    assert len(texts[long].split("desc: ")[1].split()) == DEFAULT_MAX_WORDS
    order = [part.split(":")[0] for part in texts[long].split("; ")]
    assert order == [f for f in AmazonM2Options().fields if rows[long][f]]


def test_fields_and_cap_options():
    dataset = load_amazon_m2(
        AmazonM2Options(fields=("brand", "title"), max_words=None), DatasetContext(FIXTURE)
    )
    rows = products("UK")
    for item, row in rows.items():
        text = dataset.catalog.text(dataset.catalog.index(item))
        assert text == render_item(row, ["brand", "title"])
