"""Template filters of the playground's job pages (no torch)."""

from django import template

from playground.taskcatalogue import explain_tools as task_explain_tools
from playground.taskcatalogue import run_captions as task_run_captions

register = template.Library()


@register.filter
def explain_tools(job) -> tuple[str, ...]:
    """The explain tools that apply to a training run's net (the task registry decides)."""
    return task_explain_tools((job.params or {}).get("task") or "classify")


@register.filter
def run_captions(job) -> dict[str, str]:
    """The run page's captions chosen for the run's task and dataset (the task registry's
    RUN_CAPTIONS), not fixed text."""
    params = job.params or {}
    return task_run_captions(params.get("task"), params.get("dataset"))
