from __future__ import annotations

import json
import logging

from syncd.logs import JsonFormatter, TextFormatter


def record(**extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("syncd.worker", logging.WARNING, __file__, 1, "failed", (), None)
    for key, value in extra.items():
        setattr(entry, key, value)
    return entry


def test_json_lines_carry_ids_but_never_unlisted_fields() -> None:
    line = JsonFormatter().format(record(mirror_id=7, booking_id=3, customer_email="a@b.c"))
    entry = json.loads(line)
    assert entry["mirror_id"] == 7
    assert entry["booking_id"] == 3
    assert entry["level"] == "warning"
    assert "a@b.c" not in line


def test_text_lines_append_context() -> None:
    line = TextFormatter().format(record(binding_id=2, password="hunter2"))
    assert line.endswith("[binding_id=2]")
    assert "hunter2" not in line
