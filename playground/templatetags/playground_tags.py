"""Template filters of the playground's job pages (no torch)."""

from django import template

from playground.taskcatalogue import explain_tools as task_explain_tools

register = template.Library()


@register.filter
def explain_tools(job) -> tuple[str, ...]:
    """The explain tools that apply to a training run's net (the task registry decides)."""
    return task_explain_tools((job.params or {}).get("task") or "classify")
