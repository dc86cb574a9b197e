"""The `transfer` kind's web side: start a transfer-learning run from VGG19 (one mode, or
scratch vs frozen vs fine-tune side by side), its cost, and "run again" for its form.

The worker's side is playground/transfer/worker.py; the engine playground/transfer/engine.py.
"""

from __future__ import annotations

from typing import Any

from playground import cost
from webapp.jobkinds import Budget, JobCost
from webapp.jobs import job_create
from webapp.models import Job

KIND = "transfer"
COMPARE = "compare"  # the mode that trains all three


def transfer_create(*, user, params: dict[str, Any]) -> Job:
    """Queue a transfer-learning run (params["transfer"]: mode, cut, epochs, per_class)
    that TransferForm checked. Raises JobRefused when the user is at their limit or the
    run's estimated cost is over the budget."""
    t = params["transfer"]
    what = "scratch vs frozen vs fine-tune" if t["mode"] == COMPARE else t["mode"]
    title = f"VGG19 to block {t['cut']}, {what}, on {params['dataset']}"
    return job_create(user=user, kind=KIND, params=params, title=title)


def transfer_initial_from(job: Job | None) -> dict[str, Any]:
    """The transfer form filled in from an earlier transfer run, or {} for its defaults."""
    if job is None:
        return {}
    t = job.params.get("transfer") or {}
    initial = {k: t[k] for k in ("mode", "cut", "epochs") if k in t}
    if "per_class" in t:
        initial["per_class"] = ", ".join(str(n) for n in t["per_class"])
    if "dataset" in job.params:
        initial["dataset"] = job.params["dataset"]
    return initial


def estimate(params: dict[str, Any], budget: Budget) -> JobCost:
    """Peak memory and run time of a transfer run on the budget's device (see cost.py)."""
    try:
        return cost.transfer_cost(params, budget)
    except (LookupError, TypeError, ValueError):
        return JobCost(memory_mb=0, runtime_s=0)  # the worker says what is wrong
