"""The Arrow renderer must produce exactly what render_item produces, row by row."""

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data.render import ArrowTexts, render_columns
from harness.data.text import render_item

FIELDS = ["title", "brand", "desc"]
# whitespace of every kind, "nan" spellings and separators are where the two could differ
pieces = st.sampled_from(
    ["a", "é", "word", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\x1c", "nan", "NaN", ";", ":"]
)
values = st.one_of(st.none(), st.lists(pieces, max_size=8).map("".join))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(st.fixed_dictionaries({f: values for f in FIELDS}), min_size=1, max_size=20),
    max_words=st.one_of(st.none(), st.integers(1, 4)),
)
def test_render_columns_matches_render_item(rows, max_words):
    columns = {f: pa.array([r[f] for r in rows], pa.string()) for f in FIELDS}
    got = render_columns(columns, FIELDS, max_words).to_pylist()
    assert got == [render_item(r, FIELDS, max_words) for r in rows]


def test_render_columns_examples():
    columns = {
        "title": pa.array(['Cable 12" "Pro", black', "  ", None]),
        "brand": pa.array(["nan", "Anker", None]),
        "desc": pa.array(["one  two\nthree four", "x", None]),
    }
    assert render_columns(columns, FIELDS, 3).to_pylist() == [
        'title: Cable 12" "Pro",; desc: one two three',
        "brand: Anker; desc: x",
        "",
    ]
    assert render_columns(columns, ["desc", "title"]).to_pylist()[0] == (
        'desc: one two three four; title: Cable 12" "Pro", black'
    )


def test_arrow_texts_is_a_sequence_over_chunks():
    texts = ArrowTexts(pa.chunked_array([pa.array(["a", "b"]), pa.array([], pa.string()), ["c"]]))
    assert len(texts) == 3
    assert [texts[0], texts[1], texts[2], texts[-1]] == ["a", "b", "c", "c"]
    assert list(texts) == ["a", "b", "c"] and texts[1:] == ["b", "c"]
    with pytest.raises(IndexError):
        texts[3]
