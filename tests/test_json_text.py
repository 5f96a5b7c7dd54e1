"""The journal writes JSON without importing json (a start-up cost on every firing): what it
writes must read back, through json.loads, as exactly what was written."""

from __future__ import annotations

import json
import random

import pytest

from orchestration.journal import json_text

CHARACTERS = [chr(code) for code in range(0x80)] + ["é", "✓", "\u2028", "😀", "\x7f", "\ud7ff"]


@pytest.mark.parametrize("seed", range(20))
def test_random_values_read_back_unchanged(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        text = "".join(rng.choice(CHARACTERS) for _ in range(rng.randint(0, 30)))
        value = rng.choice([text, [text, 1, -2.5, None, True, False], {text: [text], "k": {"x": 0}}])
        assert json.loads(json_text(value)) == value


def test_what_cannot_be_json_becomes_null_or_text() -> None:
    assert json.loads(json_text([float("nan"), float("inf"), ("a", "b")])) == [None, None, ["a", "b"]]
    assert json_text({"a": "x\ny\"\\"}) == '{"a": "x\\ny\\"\\\\"}'
