"""The state file's writer (``state._dump``) gives exactly ``json.dump``'s bytes, only faster."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from claimflow.sandbox.payer.state import SandboxState, _dump
from tests.unit.sandbox.test_answer_many import _one_by_one, _run


def _reference(value: Any) -> str:
    fh = io.StringIO()
    json.dump(value, fh, sort_keys=True, separators=(",", ":"))
    return fh.getvalue()


def _ours(value: Any) -> str:
    fh = io.StringIO()
    _dump(value, fh)
    return fh.getvalue()


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"claims": {}, "pending": [], "seed": 7, "version": 1},
        {"b": {"z": {"deep": {"deeper": [1, "x", None, True]}}, "a": {"ä": 'é\u2028"\\'}}, "a": 1.5},
        {"claims": {"2": {"y": 1}, "10": {"x": [{"b": 2, "a": 1}]}}, "runs": [{"run": 1, "partner": None}]},
        {"n": {3: "int keys", 1: "fall back to the one-shot encoder"}},
        [{"b": 1, "a": 2}],
        "just a string",
    ],
)
def test_same_text_as_json_dump(value: Any) -> None:
    assert _ours(value) == _reference(value)


def test_a_real_state_file_is_json_dump_byte_for_byte(tmp_path: Path) -> None:
    tree = _run(tmp_path, defer=True, answer=_one_by_one)
    saved = tree[".sandbox/payer-state.json"]
    state = SandboxState.load(tmp_path / ".sandbox" / "payer-state.json", json.loads(saved)["seed"])
    assert state.claims and state.accumulators  # a state with something in it
    assert saved == (_reference(state.data) + "\n").encode("utf-8")
