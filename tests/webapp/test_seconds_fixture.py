"""Durations read the same whether the server wrote them (the `seconds` template filter)
or a page redrew them live (formatSeconds in static/webapp/format.js): both are checked
against tests/fixtures/seconds.json (replayed by tests/js/format.test.mjs).

Regenerate the fixture after a deliberate change of the Python side:
    .venv/bin/python -m tests.webapp.test_seconds_fixture
"""

from __future__ import annotations

import json
from pathlib import Path

from webapp.templatetags.studio import seconds

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "seconds.json"
VALUES = [None, 0, 0.4, 0.5, 1.5, 2.5, 12.3, 59.4, 59.5, 60, 61, 125, 3599.4, 3600, 3661, 7380,
          86399, 90061.7]


def test_the_fixture_is_what_the_filter_writes():
    cases = json.loads(FIXTURE.read_text())
    assert [c["seconds"] for c in cases] == VALUES
    for case in cases:
        assert seconds(case["seconds"]) == case["text"], case


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps([{"seconds": v, "text": seconds(v)} for v in VALUES], indent=1,
                                  ensure_ascii=False) + "\n")
    print(f"wrote {FIXTURE}")
