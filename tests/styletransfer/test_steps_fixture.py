"""The new-job page shows the step total as the knobs change (static/styletransfer/steps.js);
the engine counts them with StyleConfig.level_sizes / total_steps. Both are checked against
tests/fixtures/style_steps.json (replayed by tests/js/steps.test.mjs), so they cannot drift.

Regenerate the fixture after a deliberate change of the Python side:
    .venv/bin/python -m tests.styletransfer.test_steps_fixture
"""

from __future__ import annotations

import json
from pathlib import Path

from styletransfer.config import MIN_LEVEL_SIDE, PRESETS, StyleConfig

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "style_steps.json"


def _expected(size: int, steps: int, levels: int, coarse_steps: int) -> dict:
    config = StyleConfig(size=size, steps=steps, levels=levels, coarse_steps=coarse_steps)
    return {"level_sizes": config.level_sizes(), "total_steps": config.total_steps}


def build_fixture() -> dict:
    knobs = [
        (size, steps, levels, coarse)
        for size in (16, 63, 64, 100, 127, 128, 129, 255, 256, 300, 512, 768)
        for levels in (1, 2, 3, 4, 6)
        for steps, coarse in ((8, 20), (0, 5))
    ] + [(p.size, p.steps, p.levels, p.coarse_steps) for p in PRESETS.values()]
    cases = [
        {
            "size": size,
            "steps": steps,
            "levels": levels,
            "coarse_steps": coarse,
            **_expected(size, steps, levels, coarse),
        }
        for size, steps, levels, coarse in knobs
    ]
    return {"min_level_side": MIN_LEVEL_SIDE, "cases": cases}


def test_the_fixture_is_what_styleconfig_computes():
    fixture = json.loads(FIXTURE.read_text())
    assert fixture["min_level_side"] == MIN_LEVEL_SIDE  # what the page gets from the view
    for case in fixture["cases"]:
        knobs = {k: case[k] for k in ("size", "steps", "levels", "coarse_steps")}
        assert _expected(**knobs) == {k: case[k] for k in ("level_sizes", "total_steps")}, knobs
    assert len({len(c["level_sizes"]) for c in fixture["cases"]}) >= 4  # 1 to 4+ levels seen


if __name__ == "__main__":
    data = build_fixture()
    lines = ",\n".join(json.dumps(c) for c in data["cases"])
    FIXTURE.write_text(f'{{"min_level_side": {data["min_level_side"]}, "cases": [\n{lines}\n]}}\n')
    print(f"wrote {FIXTURE}")
