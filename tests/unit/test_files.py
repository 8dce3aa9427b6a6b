"""The files other processes read: written whole, atomically, with the C JSON encoder."""

from __future__ import annotations

import json
import json.encoder
from pathlib import Path

import pytest

from watchdog.outputs.files import write_json_atomic

HISTORY = {"samples": [{"rss_mb": 12.5, "disks": {"/": 41.2}, "at": None}] * 100}


@pytest.mark.skipif(json.encoder.c_make_encoder is None, reason="no C JSON encoder here")
def test_the_history_is_encoded_in_one_go_not_streamed(tmp_path: Path, monkeypatch) -> None:
    """json.dump streams through the pure-Python encoder: three times the CPU of json.dumps
    for the 100-sample history file, rewritten every 10 s."""

    def streamed(*_: object, **__: object) -> None:
        raise AssertionError("the pure-Python streaming encoder was used")

    monkeypatch.setattr(json.encoder, "_make_iterencode", streamed)
    path = tmp_path / "api_history.json"
    write_json_atomic(path, HISTORY)
    monkeypatch.undo()
    assert json.loads(path.read_text()) == HISTORY
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert [p.name for p in tmp_path.iterdir()] == ["api_history.json"]  # no temp file left
