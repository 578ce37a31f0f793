"""MIND and Amazon-M2 through the command line: evaluate, dataset cards, and bad input.

Bad input must end in one ``Error: file:line: ...`` line and exit code 2, with
no output folder and no dataset cache left behind. Every case runs the CLI's
``main`` in-process (``helpers.run_cli``): argv in, exit code, stdout and stderr out.
"""

import json
import re
import shutil
from pathlib import Path

import pytest
from helpers import FIXTURES, run_cli


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def copy_fixture(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / name, tmp_path / "data" / name))


def line_of(path: Path, needle: str) -> int:
    """1-based line where ``needle`` starts (computed without the loader's code)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    assert text.count(needle) == 1, needle
    return text[: text.index(needle)].count("\n") + 1


# --- end to end ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dataset", "folder", "sequences", "items"),
    [("mind", "mind", 30, 80), ("amazon-m2", "amazon_m2", 36, 120)],
)
def test_evaluate_sanity_recommenders_on_the_fixture(
    tmp_path, cache, dataset, folder, sequences, items
):
    out = tmp_path / "out"
    args = ["evaluate", "--dataset", dataset, "--data-dir", str(FIXTURES / folder)]
    args += ["-r", "random", "-r", "popularity", "--out", str(out)]
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["name"] == dataset
    assert (results["dataset"]["sequences"], results["dataset"]["items"]) == (sequences, items)
    split = results["split"]
    assert split["test_requests"] == split["valid_requests"] == sequences // 3
    assert split["train_sequences"] == sequences - 2 * (sequences // 3)
    assert split["candidates_per_request"] == 21
    assert {r["name"] for r in results["runs"]} == {"random", "popularity"}
    assert all(0 <= r["metrics"]["recall@10"] <= 1 for r in results["runs"])
    assert (out / "leaderboard.md").read_text() in done.stdout
    assert f"## {dataset}" in done.stdout
    again = run_cli(*args)
    assert again.returncode == 0 and f"loaded {dataset} from cache" in again.stderr


# --- dataset cards ---------------------------------------------------------------


def test_show_card_of_mind(cache):
    code, out, err = run_cli(
        "datasets",
        "show",
        "mind",
        "--data-dir",
        str(FIXTURES / "mind"),
        "--tokenizer",
        "words",
    )
    assert code == 0, err
    assert re.search(r"^sequences\s+30$", out, re.M)
    assert re.search(r"^items\s+80 \(", out, re.M)
    assert re.search(r"^history length\s+min 10 / .* / max (2[0-5])", out, re.M)
    assert re.search(r"^tokens per item\s+mean \d+\.\d, median \d+", out, re.M)
    assert re.search(r"^tokenizer\s+whitespace words$", out, re.M)


def test_show_takes_options_as_spec_or_flags(cache):
    data = ["--data-dir", str(FIXTURES / "amazon_m2"), "--tokenizer", "words", "--json"]
    code, out, err = run_cli("datasets", "show", "amazon-m2[locale=DE,max_words=2]", *data)
    assert code == 0, err
    spec = json.loads(out)
    code, out, err = run_cli(
        "datasets",
        "show",
        "amazon-m2",
        "-o",
        "locale=DE",
        "--dataset-option",
        "max_words=2",
        *data,
    )
    flags = json.loads(out)
    assert spec["items"] == flags["items"] == 60 and spec["source"]["locale"] == "DE"
    assert spec["tokens_per_item"] == flags["tokens_per_item"]
    # nine fields at most, each "name:" plus at most 2 words
    assert spec["tokens_per_item"]["max"] <= 9 * 3


def test_show_uses_the_model_tokenizer_when_harness_llm_has_one(monkeypatch, cache):
    class FakeTokenizer:
        name_or_path = "fake/tok"

        def __call__(self, texts, add_special_tokens):
            assert add_special_tokens is False
            return {"input_ids": [list(text) for text in texts]}  # one token per character

    import harness.llm

    monkeypatch.setattr(harness.llm, "load_tokenizer", lambda name=None: FakeTokenizer())
    code, out, err = run_cli("datasets", "show", "ml-100k", "--json")
    assert code == 0, err
    card = json.loads(out)
    assert card["tokenizer"] == "model (fake/tok)"
    assert card["tokens_per_item"]["max"] > 20  # characters, not words


def test_show_falls_back_to_words_and_says_so(monkeypatch, cache):
    import harness.llm

    def broken(name=None):
        raise OSError("no tokenizer files")

    monkeypatch.setattr(harness.llm, "load_tokenizer", broken)
    code, out, err = run_cli("datasets", "show", "ml-100k")
    assert code == 0, err
    assert re.search(
        r"^tokenizer\s+whitespace words \(model tokenizer unavailable: OSError: no tokenizer files",
        out,
        re.M,
    )
    assert "harness: counting whitespace words instead of model tokens: OSError" in err
    assert re.search(r"^users\s+943$", out, re.M)
    assert re.search(r"^interactions\s+100,000$", out, re.M)


# --- bad input -------------------------------------------------------------------


def mind_case(name: str, data: Path):
    """Break the MIND copy in ``data``; return (extra CLI args, expected message regex)."""
    news, behaviors = data / "news.tsv", data / "behaviors.tsv"
    if name == "missing file":
        news.unlink()
        return [], rf"{re.escape(str(news))}: file not found$"
    if name == "empty directory":
        news.unlink(), behaviors.unlink(), (data / "generate.py").unlink()
        return [], rf"{re.escape(str(data))}: data directory is empty; expected behaviors.tsv"
    if name == "no data dir":
        return ["--no-data-dir"], r"dataset 'mind' needs --data-dir: a folder with behaviors.tsv"
    if name == "wrong columns":
        lines = behaviors.read_text().splitlines(keepends=True)
        lines[6] = lines[6].rsplit("\t", 1)[0] + "\n"
        behaviors.write_text("".join(lines))
        return [], rf"{re.escape(str(behaviors))}:7: expected 5 tab-separated columns, found 4$"
    if name == "unknown item":
        lines = behaviors.read_text().splitlines(keepends=True)
        parts = lines[2].split("\t")
        parts[3] = parts[3] + " N9999"
        lines[2] = "\t".join(parts)
        behaviors.write_text("".join(lines))
        user = parts[1]
        return [], (
            rf"{re.escape(str(behaviors))}:3: history news 'N9999' of user '{user}' "
            r"is not in news.tsv$"
        )
    if name == "not utf-8":
        raw = news.read_bytes().split(b"\n")
        raw[11] = raw[11].replace(b"\t", b"\t\xff", 1)
        news.write_bytes(b"\n".join(raw))
        return [], rf"{re.escape(str(news))}:12: not valid UTF-8 \(byte 0xff at column \d+\)$"
    if name == "not utf-8 in an unused column":
        raw = behaviors.read_bytes().split(b"\n")
        raw[20] = raw[20] + b"\xe9"  # latin-1 e-acute at the end of the impressions
        behaviors.write_bytes(b"\n".join(raw))
        return [], rf"{re.escape(str(behaviors))}:21: not valid UTF-8"
    if name == "duplicate id":
        lines = news.read_text().splitlines(keepends=True)
        lines[19] = lines[4].split("\t")[0] + "\t" + lines[19].split("\t", 1)[1]
        news.write_text("".join(lines))
        return [], rf"{re.escape(str(news))}:20: duplicate news id 'N1004' \(first on line 5\)$"
    if name == "no history in range":
        return ["--dataset", "mind[min_history=40,max_history=50]"], (
            rf"{re.escape(str(behaviors))}: none of its 37 users has 40-50 history clicks"
        )
    raise AssertionError(name)


def amazon_case(name: str, data: Path):
    products, sessions = data / "products_train.csv", data / "sessions_train.csv"
    if name == "missing file":
        products.unlink()
        return [], rf"{re.escape(str(products))}: file not found$"
    if name == "wrong columns":
        # a record after several multi-line ones: its line is not its record number + 2
        text = sessions.read_text()
        records = re.findall(r"(\"\[[^\]]*\]\",(B0\w+),(UK|DE)\n)", text)
        record, item, _ = records[10]
        sessions.write_text(text.replace(record, record[:-1] + ",extra\n"))
        return [], (
            rf"{re.escape(str(sessions))}:{line_of(sessions, record[:-1])}: "
            r"expected 3 ','-separated columns, found 4$"
        )
    if name == "unknown item":
        text = sessions.read_text()
        record = re.findall(r"\"\[[^\]]*\]\",B0\w+,UK\n", text)[5]
        sessions.write_text(text.replace(record, re.sub(r",B0\w+,", ",B0NOTTHERE,", record)))
        return [], (
            rf"{re.escape(str(sessions))}:{line_of(sessions, record[:40])}: item 'B0NOTTHERE' "
            r"is not a product of locale 'UK' in products_train.csv$"
        )
    if name == "not utf-8":
        raw = sessions.read_bytes()
        at = raw.index(b"\n 'B0", 2000) + 3  # inside a wrapped prev_items
        sessions.write_bytes(raw[:at] + b"\xc3" + raw[at:])
        line = raw[:at].count(b"\n") + 1
        return [], rf"{re.escape(str(sessions))}:{line}: not valid UTF-8 \(byte 0xc3 at column 3\)$"
    if name == "locale without sessions":
        with products.open("a", encoding="utf-8") as handle:
            handle.write("B0FRENCH01,FR,Chaise,12.0,,,,,,,\n")
        return ["--dataset", "amazon-m2[locale=FR]"], (
            rf"{re.escape(str(sessions))}: no sessions of locale 'FR' \(locales present: DE, UK\)$"
        )
    if name == "locale without products":
        return ["--dataset", "amazon-m2[locale=JP]"], (
            rf"{re.escape(str(products))}: no products of locale 'JP' \(locales present: DE, UK\)$"
        )
    if name == "malformed prev_items":
        text = sessions.read_text()
        record = re.findall(r"\"\[[^\]]*\]\",B0\w+,UK\n", text)[3]
        sessions.write_text(text.replace(record, "B0AAAAAAAA;B0BBBBBBBB,B0CCCCCCCC,UK\n"))
        line = line_of(sessions, "B0AAAAAAAA;")
        return [], (
            rf"{re.escape(str(sessions))}:{line}: prev_items 'B0AAAAAAAA;B0BBBBBBBB' is not a "
            r"list of quoted item ids"
        )
    if name == "header lacks a column":
        text = products.read_text()
        products.write_text(text.replace(",desc\n", ",description\n", 1))
        return [], rf"{re.escape(str(products))}:1: header lacks column\(s\) desc \(found: id,"
    raise AssertionError(name)


MIND_CASES = [
    "missing file",
    "empty directory",
    "no data dir",
    "wrong columns",
    "unknown item",
    "not utf-8",
    "not utf-8 in an unused column",
    "duplicate id",
    "no history in range",
]
AMAZON_CASES = [
    "missing file",
    "wrong columns",
    "unknown item",
    "not utf-8",
    "locale without sessions",
    "locale without products",
    "malformed prev_items",
    "header lacks a column",
]


@pytest.mark.parametrize(
    ("dataset", "case"),
    [("mind", c) for c in MIND_CASES] + [("amazon-m2", c) for c in AMAZON_CASES],
)
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(tmp_path, cache, dataset, case):
    folder = "mind" if dataset == "mind" else "amazon_m2"
    data = copy_fixture(folder, tmp_path)
    make = mind_case if dataset == "mind" else amazon_case
    extra, expected = make(case, data)
    args = ["evaluate", "--dataset", dataset, "--data-dir", str(data)]
    if extra[:1] == ["--no-data-dir"]:
        args, extra = ["evaluate", "--dataset", dataset], extra[1:]
    out = tmp_path / "out"
    code, stdout, stderr = run_cli(*args, *extra, "-r", "random", "--out", str(out))
    assert code == 2, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, stderr
    assert re.search(expected, errors[0][len("Error: ") :]), errors[0]
    assert not out.exists() and not list(tmp_path.glob(".out*"))
    assert not (cache / "datasets").exists() or list((cache / "datasets").iterdir()) == []


@pytest.mark.parametrize("dataset", ["mind", "amazon-m2"])
def test_unknown_items_can_be_dropped_with_a_counted_warning(tmp_path, cache, dataset):
    folder = "mind" if dataset == "mind" else "amazon_m2"
    data = copy_fixture(folder, tmp_path)
    (mind_case if dataset == "mind" else amazon_case)("unknown item", data)
    code, stdout, stderr = run_cli(
        "evaluate",
        *("--dataset", f"{dataset}[unknown_items=drop]", "--data-dir", str(data)),
        *("-r", "popularity", "--out", str(tmp_path / "out")),
    )
    assert code == 0, stderr
    what = "history clicks of 1 users" if dataset == "mind" else "items of 1 sessions"
    assert f"dropped 1 {what}" in stderr  # the warning a user sees
    assert (tmp_path / "out" / "results.json").exists()
