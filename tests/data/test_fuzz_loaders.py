"""Property-based corruption of MIND, Amazon-M2 and RecBole atomic files.

Every corrupted input either still loads, or ends in a one-line
:class:`HarnessError` (the CLI's exit 2) that names the file; never another
exception, and never a dataset cache entry written for it.
"""

import shutil
import tempfile
from pathlib import Path

from helpers import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.data.amazon_m2 import AmazonM2Options, load_amazon_m2
from harness.data.context import DatasetContext
from harness.data.mind import MindOptions, load_mind
from harness.data.recbole import load_atomic_dataset
from harness.errors import HarnessError

CASES_PER_LOADER = 25
BIG_LINE = 10 * 2**20


def _atomic_fixture(folder: Path, ml100k) -> None:
    """A small pair of RecBole atomic files cut from the embedded ml-100k."""
    for suffix, key in ((".inter", "inter"), (".item", "item")):
        lines = Path(ml100k.source[key]).read_text(encoding="latin-1").splitlines()[:300]
        (folder / f"small{suffix}").write_text("\n".join(lines) + "\n")


def _load(kind: str, folder: Path, cache: Path):
    context = DatasetContext(folder, cache, progress=False)
    if kind == "mind":
        return load_mind(MindOptions(min_history=1), context)
    if kind == "amazon-m2":
        return load_amazon_m2(AmazonM2Options(min_history=1), context)
    return load_atomic_dataset("small", folder / "small.inter", folder / "small.item", "movies")


FILES = {
    "mind": ["behaviors.tsv", "news.tsv"],
    "amazon-m2": ["sessions_train.csv", "products_train.csv"],
    "atomic": ["small.inter", "small.item"],
}

corruption = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(
        st.just("flip"), st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8)
    ),
    st.tuples(st.just("invalid-utf8"), st.floats(0, 1)),
    st.tuples(st.just("extra-column"), st.floats(0, 1)),
    st.tuples(st.just("missing-column"), st.floats(0, 1)),
    st.tuples(st.just("empty"), st.just(0.0)),
    st.tuples(st.just("big-line"), st.floats(0, 1)),
)


def corrupt(data: bytes, how) -> bytes:
    kind, arg = how
    at = int(len(data) * arg) if isinstance(arg, float) else 0
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        out = bytearray(data)
        for where, value in arg:
            if out:
                out[min(int(len(out) * where), len(out) - 1)] = value
        return bytes(out)
    if kind == "invalid-utf8":
        return data[:at] + b"\xff\xfe\xc3" + data[at:]
    lines = data.split(b"\n")
    row = min(int(len(lines) * arg), len(lines) - 1)
    if kind == "extra-column":
        sep = b"\t" if b"\t" in data else b","
        lines[row] = lines[row] + sep + b"surplus"
    elif kind == "missing-column":
        sep = b"\t" if b"\t" in data else b","
        lines[row] = sep.join(lines[row].split(sep)[:-1])
    elif kind == "empty":
        return b""
    elif kind == "big-line":
        lines.insert(row, b"x" * BIG_LINE)
    return b"\n".join(lines)


def _check(kind: str, which: int, how, ml100k) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder, cache = Path(tmp) / "data", Path(tmp) / "cache"
        folder.mkdir()
        if kind == "atomic":
            _atomic_fixture(folder, ml100k)
        else:
            source = FIXTURES / kind.replace("-", "_")
            for name in FILES[kind]:
                shutil.copy(source / name, folder / name)
        target = folder / FILES[kind][which]
        target.write_bytes(corrupt(target.read_bytes(), how))
        try:
            _load(kind, folder, cache)
        except HarnessError as exc:
            message = str(exc)
            assert "\n" not in message.strip(), message
            assert any(name in message for name in FILES[kind]), message
            written = [p for p in (cache / "datasets").glob("*") if not p.name.startswith(".")]
            assert not written, f"a cache entry was written for a failed load: {written}"


def _fuzz(kind: str):
    @settings(
        max_examples=CASES_PER_LOADER,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(which=st.integers(0, 1), how=corruption)
    def test(ml100k, which, how):
        _check(kind, which, how, ml100k)

    return test


test_fuzz_mind = _fuzz("mind")
test_fuzz_amazon_m2 = _fuzz("amazon-m2")
test_fuzz_atomic = _fuzz("atomic")
