"""The style-transfer job's cost estimate: the presets fit the budget, the largest
settings the form allows do not, and the advice names a value that fits."""

from __future__ import annotations

import re

import pytest

from styletransfer.config import PRESETS
from styletransfer.services import estimate
from webapp.jobkinds import Budget

CPU = Budget(memory_mb=8192, runtime_s=7200, device="cpu")
LARGEST = {"size": 768, "steps": 1000, "levels": 1, "coarse_steps": 0, "optimizer": "lbfgs"}


def _params(styles: int = 1, **config) -> dict:
    return {"preset": "standard", "config": config, "styles": [{"weight": 1.0}] * styles}


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("styles", [1, 26])
def test_every_preset_fits_the_default_budget(name, styles):
    cost = estimate({"preset": name, "config": {}, "styles": [{}] * styles}, CPU)
    assert cost.over(CPU) == ""


def test_the_largest_settings_run_for_hours_and_the_advice_fits():
    cost = estimate(_params(26, **LARGEST), CPU)
    assert cost.runtime_s > 2.5 * 3600  # the issue measured about three hours
    steps = int(re.fullmatch(r"lower the steps to (\d+)", cost.lower["runtime"]).group(1))
    assert 0 < steps < 1000
    assert estimate(_params(26, **{**LARGEST, "steps": steps}), CPU).over(CPU) == ""
    assert estimate(_params(26, **{**LARGEST, "steps": steps + 1}), CPU).over(CPU) != ""


def test_over_the_memory_budget_names_the_size():
    small = Budget(memory_mb=2500, runtime_s=7200, device="cpu")
    cost = estimate(_params(26, **LARGEST), small)
    size = int(re.fullmatch(r"lower the size to (\d+)", cost.lower["memory"]).group(1))
    assert estimate(_params(26, **{**LARGEST, "size": size}), small).memory_mb <= 2500
    assert "2,500 MB" in cost.over(small)


def test_time_grows_with_steps_size_and_styles_and_a_gpu_is_faster():
    base = estimate(_params(1, size=256, steps=100, levels=1), CPU)
    for change in ({"steps": 200}, {"size": 512}):
        assert (
            estimate(
                _params(1, **{"size": 256, "steps": 100, "levels": 1, **change}), CPU
            ).runtime_s
            > base.runtime_s
        )
    assert estimate(_params(8, size=256, steps=100, levels=1), CPU).runtime_s > base.runtime_s
    gpu = Budget(memory_mb=80_000, runtime_s=7200, device="cuda")
    assert estimate(_params(1, size=256, steps=100, levels=1), gpu).runtime_s < base.runtime_s
    assert (
        estimate(_params(1, size=256, steps=100, levels=1, optimizer="adam"), CPU).memory_mb
        < base.memory_mb
    )
