from dataclasses import dataclass
from typing import Literal

import pytest

from harness.errors import HarnessError
from harness.options import build_options, parse_spec


@dataclass(frozen=True)
class Opts:
    loss: Literal["ce", "bce"] = "ce"
    epochs: int = 10
    lr: float = 1e-3
    cap: int | None = None
    fields: tuple[str, ...] = ()
    flag: bool = False

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError("epochs must be at least 1")


def test_parse_spec():
    assert parse_spec("sasrec") == ("sasrec", {})
    assert parse_spec("sasrec[loss=bce, epochs=50]") == ("sasrec", {"loss": "bce", "epochs": "50"})
    assert parse_spec("x[fields='a|b',k=v]") == ("x", {"fields": "a|b", "k": "v"})
    with pytest.raises(HarnessError, match="cannot parse"):
        parse_spec("bad[")
    with pytest.raises(HarnessError, match="expected key=value"):
        parse_spec("x[novalue]")


def test_build_options_coerces_strings_and_typed_values():
    opts = build_options(
        Opts,
        {"loss": "bce", "epochs": "5", "cap": "none", "fields": "a|b", "flag": "true", "lr": 0.01},
        "recommender 'x'",
    )
    assert opts == Opts("bce", 5, 0.01, None, ("a", "b"), True)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"los": "bce"}, "unknown option 'los' for recommender 'x'; valid options: cap, epochs"),
        ({"loss": "mse"}, "bad value 'mse' for option 'loss'.*expected one of ce, bce"),
        ({"epochs": "ten"}, "bad value 'ten' for option 'epochs'"),
        ({"epochs": "0"}, "invalid options for recommender 'x': epochs must be at least 1"),
        ({"flag": "maybe"}, "expected true or false"),
    ],
)
def test_bad_options_are_one_line_errors(raw, message):
    with pytest.raises(HarnessError, match=message):
        build_options(Opts, raw, "recommender 'x'")


def test_component_without_options_rejects_any():
    with pytest.raises(HarnessError, match="takes no options"):
        build_options(None, {"a": "1"}, "recommender 'random'")
