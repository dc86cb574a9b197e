"""The registry of job kinds: what each app runs in the worker and how its page looks.

Every kind shares one lifecycle (webapp.jobs, webapp.runner); a kind only supplies the
function that does the work. Apps register their kind when Django starts
(`AppConfig.ready`), so the web server and the workers know the same kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webapp.runner import JobContext


@dataclass(frozen=True)
class Budget:
    """What one job may use on the workers of its queue (settings and their devices)."""

    memory_mb: float
    runtime_s: float
    device: str = "cpu"  # "cuda" when the queue's workers have a GPU


@dataclass(frozen=True)
class JobCost:
    """A kind's estimate of one job's peak memory and run time, from its parameters.

    `lower` says, for each budget a job is over, which setting to lower and to what,
    e.g. {"memory": "lower the batch size to 128"}: the kind knows its own model."""

    memory_mb: float
    runtime_s: float
    lower: dict[str, str] = field(default_factory=dict)

    def over(self, budget: Budget) -> str:
        """Why this job does not fit the budget, in words for the user ("" when it fits)."""
        problems = []
        if self.memory_mb > budget.memory_mb:
            advice = self.lower.get("memory", "choose smaller settings")
            problems.append(
                f"it would need about {self.memory_mb:,.0f} MB of memory on the {budget.device}"
                f" (the limit is {budget.memory_mb:,.0f} MB): {advice}"
            )
        if self.runtime_s > budget.runtime_s:
            advice = self.lower.get("runtime", "choose fewer steps or a smaller size")
            problems.append(
                f"it would run for about {duration_words(self.runtime_s)} on the {budget.device}"
                f" (the limit is {duration_words(budget.runtime_s)}): {advice}"
            )
        return ("This job is too big: " + "; and ".join(problems) + ".") if problems else ""


def duration_words(seconds: float) -> str:
    """A duration as people say it: "45 s", "12 minutes", "2.5 hours"."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


@dataclass(frozen=True)
class JobKind:
    name: str  # stored in Job.kind, e.g. "stylize"
    label: str  # shown to people, e.g. "Style transfer"
    # The function that does the work in the worker and returns Job.result, as
    # "module:function" so that the web process never imports the engine (nor torch).
    run: str
    blurb: str = ""  # one sentence for the home page
    queue: str = "gpu"  # Celery queue: "gpu" for engine work
    template: str = "webapp/job_detail.html"  # the job page for this kind
    new_url_name: str = ""  # URL name of the form that starts one, for "run again"
    # (params, budget) -> JobCost, checked before a job is queued; None: not estimated
    estimate: Callable[[dict[str, Any], Budget], JobCost] | None = None
    # Its run saves a checkpoint and raises JobPaused when `ctx.controls()` says "paused"
    # (see webapp.runner): preemptive fair share may then make it yield the worker to
    # another user's waiting job, through that same pause path.
    can_yield: bool = False

    def run_function(self) -> Callable[[JobContext], dict[str, Any]]:
        module, _, function = self.run.partition(":")
        return getattr(import_module(module), function)


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.name] = kind
    return kind


def kind_can_yield(name: str) -> bool:
    """Whether jobs of kind `name` may be asked to yield their worker (unknown: no)."""
    kind = KINDS.get(name)
    return kind is not None and kind.can_yield


def get_kind(name: str) -> JobKind:
    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"unknown job kind {name!r}") from None
